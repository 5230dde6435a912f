"""Shared by the benchmark scripts: process CPU time, machine description, BENCHMARKS.md sections."""

from __future__ import annotations

import os
import platform
import re
import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "BENCHMARKS.md"
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def taskset(cpu: int) -> list[str]:
    """Pin to one core when the machine has more than one and taskset exists."""
    if (
        os.cpu_count()
        and os.cpu_count() > 1
        and subprocess.run(["which", "taskset"], capture_output=True).returncode == 0
    ):
        return ["taskset", "-c", str(cpu)]
    return []


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import google.protobuf
    import grpc

    return (
        f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, Linux {platform.release()}, "
        f"Python {platform.python_version()}, grpcio {grpc.__version__}, protobuf {google.protobuf.__version__}"
    )


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError(f"port {port} not listening after {timeout}s")


def write_section(title: str, body: str) -> None:
    """Replace (or append) the `## title` section of BENCHMARKS.md."""
    text = (
        BENCHMARKS.read_text()
        if BENCHMARKS.exists()
        else "# Benchmarks\n\nFigures measured by the scripts in `bench/`; each section names its command.\n"
    )
    section = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = (
        pattern.sub(lambda _: section + "\n", text)
        if pattern.search(text)
        else text.rstrip() + "\n\n" + section
    )
    BENCHMARKS.write_text(text)


class _Tee:
    def __init__(self, *streams):
        self.streams = streams

    def write(self, text):
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self):
        for s in self.streams:
            s.flush()

    def isatty(self) -> bool:
        return False


def run_recorded(main, title: str) -> None:
    """Run a benchmark's `main()`; with `--write` on the command line, its printed report (the
    markdown table and the lines around it) also replaces the `title` section of BENCHMARKS.md."""
    import contextlib
    import io
    import sys

    write = "--write" in sys.argv
    if write:
        sys.argv.remove("--write")
    command = "python " + " ".join(["bench/" + Path(sys.argv[0]).name, *sys.argv[1:]])
    out = io.StringIO()
    with contextlib.redirect_stdout(_Tee(sys.stdout, out)):
        main()
    if write:
        lines = out.getvalue().splitlines()
        first = next((i for i, line in enumerate(lines) if line.startswith("|")), 0)
        report = "\n".join(lines[max(0, first - 3):]).strip()
        load = os.getloadavg()[0]
        write_section(title, f"`{command}` — machine: {machine()}; load average {load:.1f} at the end.\n\n{report}")
