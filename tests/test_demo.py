"""`cobalt-trace demo --duration 60` end to end: while it runs, the query API shows traces from all
three clusters, a control-plane → hypervisor trace through the broker with its queue wait, error
and slow traces kept by tail sampling, the seed's 10% of ordinary traces (exactly the trace ids the
probabilistic policy's hash picks), and the banner's example request id; Ctrl-C then stops
everything and leaves no process behind."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cobalt_testkit import ROOT
from cobalt_trace.demo.broker import find_rabbitmq_server
from cobalt_trace.demo.run import kept_by_probability

pytestmark = [
    pytest.mark.timeout(300),
    pytest.mark.skipif(
        not sys.platform.startswith("linux"), reason="loopback addresses 127.0.x.1 need Linux"
    ),
]

DURATION = 60
# The management cluster's own address: no other test binds it (the demo's default is 127.0.0.1:3200).
UI_ADDRESS = "127.0.1.1:3200"
UI = f"http://{UI_ADDRESS}"
# decision_wait 5 s + batch 1 s + store flush 0.5 s + span export delays, with room for a busy CI.
SETTLE = 18.0
MIN_ORDINARY = 80
CLUSTERS = {"management", "control-plane", "hypervisor"}


def _get(path: str):
    try:
        with urllib.request.urlopen(UI + path, timeout=10) as resp:
            return json.load(resp)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def _value(v: dict):
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in v:
            return v[key]
    if "intValue" in v:
        return int(v["intValue"])
    return None


@dataclass
class StoredSpan:
    service: str
    cluster: str
    name: str
    kind: str
    error: bool
    span_id: str
    parent_id: str
    start: int
    end: int
    attributes: dict


def stored_trace(trace_id: str) -> list[StoredSpan] | None:
    body = _get(f"/api/v2/traces/{trace_id}")
    if not body:
        return None
    spans = []
    for rs in body["trace"].get("resourceSpans", []):
        res = {a["key"]: _value(a["value"]) for a in rs.get("resource", {}).get("attributes", [])}
        for ss in rs.get("scopeSpans", []):
            for s in ss.get("spans", []):
                spans.append(
                    StoredSpan(
                        service=res.get("service.name", ""),
                        cluster=res.get("cluster", ""),
                        name=s["name"],
                        kind=s.get("kind", ""),
                        error=s.get("status", {}).get("code") == "STATUS_CODE_ERROR",
                        span_id=s.get("spanId", ""),
                        parent_id=s.get("parentSpanId", ""),
                        start=int(s["startTimeUnixNano"]),
                        end=int(s["endTimeUnixNano"]),
                        attributes={a["key"]: _value(a["value"]) for a in s.get("attributes", [])},
                    )
                )
    return spans or None


def duration_s(spans: list[StoredSpan]) -> float:
    return (max(s.end for s in spans) - min(s.start for s in spans)) / 1e9


@dataclass
class Evidence:
    """What the query API showed so far; complete when every claim of the demo is backed."""

    clusters: set = field(default_factory=set)
    crossing: dict | None = None  # control plane → RabbitMQ → hypervisor, with queue wait
    error_trace: str = ""
    slow_trace: str = ""
    ordinary_total: int = 0
    ordinary_kept: int = 0  # for any reason (on a busy machine some ordinary flows take > 1 s)
    ordinary_share: int = 0  # kept because the probabilistic policy picked them
    wrongly_dropped: list = field(default_factory=list)  # hash says keep, not stored
    wrongly_kept: list = field(default_factory=list)  # stored, neither hashed, slow nor failed
    example_resolves: bool = False

    def missing(self) -> list[str]:
        out = []
        if not self.clusters >= CLUSTERS:
            out.append(f"clusters seen {sorted(self.clusters)}")
        if self.crossing is None:
            out.append("no control-plane → hypervisor trace through the broker with a queue wait")
        if not self.error_trace:
            out.append("no error trace kept by the status_code policy")
        if not self.slow_trace:
            out.append("no slow trace kept by the latency policy")
        if self.ordinary_total < MIN_ORDINARY:
            out.append(f"only {self.ordinary_total} settled ordinary flows")
        if not self.example_resolves:
            out.append("example request id does not resolve")
        return out


class Checker:
    def __init__(self, workload: Path, example_rid: str):
        self.workload = workload
        self.example_rid = example_rid
        self.cache: dict[str, list[StoredSpan] | None] = {}
        self.ev = Evidence()

    def settled_flows(self) -> list[dict]:
        now = time.time()
        flows = [json.loads(line) for line in self.workload.read_text().splitlines() if line.strip()]
        return [f for f in flows if f.get("trace_id") and f["started"] + f["seconds"] < now - SETTLE]

    def look(self) -> Evidence:
        ev = self.ev
        if not ev.example_resolves:
            body = _get(f"/api/cobalt/requests/{self.example_rid}")
            ev.example_resolves = bool(body and body.get("traces"))
        ordinary_total = ordinary_kept = ordinary_share = 0
        ev.wrongly_dropped, ev.wrongly_kept = [], []
        for flow in self.settled_flows():
            tid = flow["trace_id"]
            hashed = kept_by_probability(tid)
            if tid not in self.cache or (hashed and self.cache[tid] is None):
                self.cache[tid] = stored_trace(tid)
            spans = self.cache[tid]
            if spans:
                ev.clusters |= {s.cluster for s in spans}
                self._crossing(tid, spans)
            if flow["fault"] and not hashed and spans:
                if (
                    flow["fault"] in ("error", "timeout")
                    and any(s.error for s in spans)
                    and not ev.error_trace
                ):
                    ev.error_trace = tid
                if flow["fault"] == "slow" and duration_s(spans) > 1.0 and not ev.slow_trace:
                    ev.slow_trace = tid
            if flow["fault"] or flow.get("status", 0) >= 500:
                continue
            ordinary_total += 1
            ordinary_kept += bool(spans)
            ordinary_share += bool(spans) and hashed
            if hashed and not spans:
                ev.wrongly_dropped.append(tid)
            if spans and not hashed and duration_s(spans) <= 1.0 and not any(s.error for s in spans):
                ev.wrongly_kept.append(tid)
        ev.ordinary_total, ev.ordinary_kept, ev.ordinary_share = ordinary_total, ordinary_kept, ordinary_share
        return ev

    def _crossing(self, tid: str, spans: list[StoredSpan]) -> None:
        if self.ev.crossing is not None:
            return
        by_id = {s.span_id: s for s in spans}
        for s in spans:
            parent = by_id.get(s.parent_id)
            if (
                s.kind == "SPAN_KIND_CONSUMER"
                and s.cluster == "hypervisor"
                and "messaging.cobalt.queue_wait_ms" in s.attributes
                and parent is not None
                and parent.kind == "SPAN_KIND_PRODUCER"
                and parent.cluster == "control-plane"
            ):
                self.ev.crossing = {
                    "trace": tid,
                    "from": parent.service,
                    "to": s.service,
                    "system": s.attributes.get("messaging.system"),
                    "queue_wait_ms": s.attributes["messaging.cobalt.queue_wait_ms"],
                }
                return


def _pump(stream, lines: queue.Queue) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def _processes_mentioning(text: str) -> list[str]:
    """Live processes whose command line or environment names `text` (the demo's state dir)."""
    found = []
    needle = text.encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        for part in ("cmdline", "environ"):
            try:
                data = Path(f"/proc/{pid}/{part}").read_bytes()
            except OSError:
                continue
            if needle in data:
                try:
                    found.append(f"{pid}: {Path(f'/proc/{pid}/cmdline').read_bytes()[:200]!r}")
                except OSError:
                    pass
                break
    return found


@pytest.mark.parametrize("transport", ["auto", "memory"])
def test_demo_end_to_end(tmp_path, transport):
    state = tmp_path / "demo-state"
    cmd = [sys.executable, "-m", "cobalt_trace.cli.main", "demo", "--duration", str(DURATION)]
    cmd += ["--state-dir", str(state), "--rate", "4", "--ui", UI_ADDRESS, "--transport", transport]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
    output: list[str] = []

    def read_until(pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            output.append(line)
            m = re.search(pattern, line)
            if m:
                return m
        pytest.fail(f"no line matching {pattern!r}; demo output:\n{''.join(output)}")

    try:
        read_until(r"cobalt-trace demo: CobaltCore", 150)
        example = read_until(r"example request id (req-[0-9a-f-]{36})", 60).group(1)
        banner = "".join(output)
        assert f"UI and query API   {UI}" in banner
        if transport == "auto" and find_rabbitmq_server():
            assert "messaging          RabbitMQ 127.0.2.1:5672" in banner
        else:
            assert "kombu filesystem transport" in banner

        checker = Checker(state / "run" / "workload.jsonl", example)
        ev = checker.look()
        while ev.missing() and proc.poll() is None:
            time.sleep(2)
            ev = checker.look()
        assert not ev.missing(), f"{ev.missing()}; evidence {ev}; demo output:\n{''.join(output)}"

        assert ev.crossing["system"] == "rabbitmq"  # oslo.messaging's rabbit driver, on either transport
        assert float(ev.crossing["queue_wait_ms"]) >= 0  # the store keeps attribute values as text
        # The probabilistic policy keeps exactly the hashed 10% of ordinary traces: nothing it
        # picks is lost, nothing else is kept unless it was slow or failed on its own.
        assert not ev.wrongly_dropped, f"hashed into the 10% but not stored: {ev.wrongly_dropped}"
        assert not ev.wrongly_kept, f"stored without reason: {ev.wrongly_kept}"
        ratio = ev.ordinary_share / ev.ordinary_total
        assert 0.01 <= ratio <= 0.25, f"{ev.ordinary_share}/{ev.ordinary_total} ordinary traces sampled"
        print(
            f"ordinary traces kept by the 10% policy {ev.ordinary_share}/{ev.ordinary_total} ({ratio:.0%}), "
            f"kept in all {ev.ordinary_kept}; "
            f"crossing {ev.crossing}; error {ev.error_trace}; slow {ev.slow_trace}"
        )

        assert proc.poll() is None, "the demo ended before --duration"
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        assert proc.wait(90) == 0
    finally:
        if proc.poll() is None:  # a failed assertion: stop it the clean way first
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    read_until(r"cobalt-trace demo: stopping", 5)
    deadline = time.monotonic() + 10
    while _processes_mentioning(str(state)) and time.monotonic() < deadline:
        time.sleep(0.2)  # epmd is ended by a command after the node stops
    assert not _processes_mentioning(str(state))


def test_demo_options_are_checked_before_anything_starts(tmp_path):
    cmd = [sys.executable, "-m", "cobalt_trace.cli.main", "demo", "--rate", "0", "--error-rate", "1.5"]
    res = subprocess.run(
        cmd + ["--state-dir", str(tmp_path)], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert res.returncode == 2
    assert "--rate must be in (0, 200]" in res.stderr
    assert "--error-rate must be a fraction in [0, 1], got 1.5" in res.stderr
    assert not (tmp_path / "run").exists()


def test_memory_transport_is_kombus_filesystem_transport_in_its_own_folder(tmp_path):
    from cobalt_trace.demo.broker import choose_broker

    broker = choose_broker("memory", "127.0.2.1", 5672, tmp_path)
    try:
        broker.start()
        work = Path(broker.workdir)
        assert broker.url == "kombu+filesystem://"
        # kombu writes to data_out and reads data_in: one folder, so every process sees every message
        assert (work / "data_in").resolve() == (work / "data_out").resolve()
        assert (work / "control").is_dir()
    finally:
        broker.stop()
    assert not Path(broker.workdir).exists()
    with pytest.raises(ValueError, match="invalid transport 'kafka'"):
        choose_broker("kafka", "127.0.2.1", 5672, tmp_path)


def test_example_pick_uses_the_gateways_hash():
    # Same trace ids as the tail-sampling processor keeps (its own test computes FNV-1a separately).
    from test_e2e_tail_sampling_replicas import kept_by_probability as reference

    ids = [os.urandom(16) for _ in range(2000)]
    assert [kept_by_probability(t.hex()) for t in ids] == [reference(t) for t in ids]
