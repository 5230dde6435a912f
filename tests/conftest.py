"""Fixtures shared by the suite; the helpers behind them are in `cobalt_testkit`."""

from __future__ import annotations

import pytest

from cobalt_testkit import CollectorProcess, Pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def collectors(tmp_path):
    """Start collectors with `start(config_text, name)`; all are stopped at the end."""
    started: list[CollectorProcess] = []

    def start(config_text: str, name: str = "collector", env: dict | None = None) -> CollectorProcess:
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(config_text)
        proc = CollectorProcess(cfg, tmp_path / f"{name}.log", env)
        started.append(proc)
        return proc

    yield start
    for p in reversed(started):
        p.stop()
