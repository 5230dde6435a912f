"""The file exporter: protobuf framing, JSON lines, zstd, append/truncate, rotation."""

from __future__ import annotations

import json
import os
import struct
import time

import cramjam
import pytest
from exporter_testkit import decode_ok, make_batch, make_settings, run

from cobalt_trace.components.exporters.file.factory import FACTORY
from cobalt_trace.components.exporters.file.rotating import RotatingFile
from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.host import Host
from cobalt_trace.pipeline.telemetry import Telemetry


def write(raw: dict, *batches):
    settings = make_settings("file")
    exporter = FACTORY.create(settings, decode_ok(FACTORY.config_type, raw))

    async def go():
        await exporter.start(Host(Telemetry()))
        for b in batches:
            await exporter.consume(b)
        await exporter.shutdown()

    run(go())
    return settings


def frames(data: bytes) -> list[bytes]:
    out, pos = [], 0
    while pos < len(data):
        (n,) = struct.unpack_from(">I", data, pos)
        out.append(data[pos + 4 : pos + 4 + n])
        pos += 4 + n
    return out


def test_proto_format_is_length_prefixed_requests(tmp_path):
    path = tmp_path / "out" / "spans.pb"
    batches = [make_batch(2), make_batch(3)]
    settings = write({"path": str(path), "format": "proto"}, *batches)
    assert frames(path.read_bytes()) == [b.to_bytes() for b in batches]
    assert settings.telemetry.metrics.get("otelcol_exporter_sent_spans").value(exporter="file") == 5


def test_zstd_compresses_each_message(tmp_path):
    path = tmp_path / "spans.pb.zst"
    batches = [make_batch(2), make_batch(1)]
    write({"path": str(path), "format": "proto", "compression": "zstd"}, *batches)
    assert [bytes(cramjam.zstd.decompress(f)) for f in frames(path.read_bytes())] == [
        b.to_bytes() for b in batches
    ]


def test_truncates_unless_append(tmp_path):
    path = tmp_path / "spans.pb"
    write({"path": str(path), "format": "proto"}, make_batch(1))
    write({"path": str(path), "format": "proto"}, make_batch(2))
    assert len(frames(path.read_bytes())) == 1
    write({"path": str(path), "format": "proto", "append": True}, make_batch(3))
    assert len(frames(path.read_bytes())) == 2


def test_json_lines(tmp_path):
    pytest.importorskip("cobalt_trace.wire.otlp_json")
    path = tmp_path / "spans.json"
    write({"path": str(path)}, make_batch(2), make_batch(1))
    lines = path.read_text().splitlines()
    assert len(lines) == 2
    spans = json.loads(lines[0])["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert [s["name"] for s in spans] == ["GET /servers/0", "GET /servers/1"]


def test_rotation_by_size_keeps_max_backups(tmp_path):
    path = tmp_path / "spans.pb"
    rf = RotatingFile(str(path), append=False, max_bytes=1000, max_backups=2)
    record = b"x" * 400
    for _ in range(10):  # two records per file → 5 files, of which 2 backups are kept
        rf.write(record)
    rf.close()
    backups = sorted(p.name for p in tmp_path.iterdir() if p != path)
    assert len(backups) == 2
    assert all(name.startswith("spans-") and name.endswith(".pb") for name in backups)
    assert path.stat().st_size == 800


def test_rotation_prunes_by_age(tmp_path):
    path = tmp_path / "spans.pb"
    old = tmp_path / "spans-2020-01-01T00-00-00.000.pb"
    old.write_bytes(b"old")
    week_ago = time.time() - 7 * 86400
    os.utime(old, (week_ago, week_ago))
    rf = RotatingFile(str(path), append=False, max_bytes=10, max_days=1)
    rf.write(b"a" * 8)
    rf.write(b"b" * 8)  # rotates
    rf.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert old.name not in names and len(names) == 2


def test_exporter_rotation_config(tmp_path):
    path = tmp_path / "spans.pb"
    write(
        {"path": str(path), "format": "proto", "rotation": {"max_megabytes": 1, "max_backups": 3}},
        *[make_batch(1, filler="z" * 200_000)] * 12,
    )
    files = list(tmp_path.iterdir())
    assert 2 <= len(files) <= 4
    total = sum(len(frames(p.read_bytes())) for p in files)
    assert total <= 12 and all(p.stat().st_size <= 1024 * 1024 for p in files)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({}, "x::path: a file path is required"),
        ({"path": "a", "append": True, "compression": "zstd"}, "x::append: append and compression"),
        ({"path": "a", "append": True, "rotation": {}}, "x::append: append and rotation"),
        ({"path": "a", "format": "xml"}, "x::format: unsupported value 'xml'"),
        (
            {"path": "a", "rotation": {"max_megabytes": -1}},
            "x::rotation::max_megabytes: must not be negative",
        ),
    ],
)
def test_config_errors(raw, message):
    _, errors = decode(FACTORY.config_type, raw, "x")
    assert any(e.startswith(message) for e in errors), errors


def test_config_defaults():
    cfg = decode_ok(FACTORY.config_type, {"path": "/tmp/x.json", "rotation": {}})
    assert (cfg.format, cfg.append, cfg.flush_interval) == ("json", False, 1)
    assert (cfg.rotation.max_megabytes, cfg.rotation.max_backups, cfg.rotation.max_days) == (100, 100, 0)
