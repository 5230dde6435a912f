"""Child processes of the demo: started in their own sessions (Ctrl-C reaches only the demo,
which stops them in order), told by the kernel to exit if the demo dies, logs in one folder."""

from __future__ import annotations

import ctypes
import os
import selectors
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Child", "Supervisor", "die_with_parent"]

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """preexec_fn: SIGTERM this child when the demo process dies, even by SIGKILL (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log: Path

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, chars: int = 1500) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


class Supervisor:
    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        self.children: list[Child] = []

    def spawn(
        self, name: str, argv: list[str], env: dict, cwd: str | None = None, ready_line: bool = False
    ) -> Child:
        """Must be called from the main thread: the death signal follows the thread that forked."""
        log = self.log_dir / f"{name}.log"
        with open(log, "wb") as err:  # the child keeps its own descriptor
            proc = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if ready_line else subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        child = Child(name, proc, log)
        self.children.append(child)
        return child

    def wait_ready_lines(self, children: list[Child], timeout: float) -> None:
        """Wait until every child printed `READY` on stdout."""
        pending = {c.proc.stdout.fileno(): c for c in children}
        buffers = {fd: b"" for fd in pending}
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            for fd in pending:
                sel.register(fd, selectors.EVENT_READ)
            while pending:
                left = deadline - time.monotonic()
                if left <= 0:
                    names = ", ".join(c.name for c in pending.values())
                    raise RuntimeError(f"not ready after {timeout:.0f}s: {names} (logs in {self.log_dir})")
                for key, _ in sel.select(min(left, 1.0)):
                    fd = key.fd
                    data = os.read(fd, 4096)
                    buffers[fd] += data
                    if b"READY" in buffers[fd]:
                        sel.unregister(fd)
                        del pending[fd]
                    elif not data:  # EOF: it died
                        child = pending[fd]
                        child.proc.wait(5)
                        raise RuntimeError(
                            f"{child.name} exited with {child.proc.returncode}:\n{child.tail()}"
                        )

    def wait_healthy(self, child: Child, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not child.alive():
                raise RuntimeError(f"{child.name} exited with {child.proc.returncode}:\n{child.tail()}")
            try:
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.1)  # nothing to wait on but the health endpoint
        raise RuntimeError(f"{child.name} not healthy at {url} after {timeout:.0f}s:\n{child.tail()}")

    def dead(self) -> list[Child]:
        return [c for c in self.children if not c.alive()]

    def stop(self, names: list[str] | None = None, timeout: float = 20.0) -> None:
        """SIGTERM the named children (all when None) together, then wait; SIGKILL stragglers."""
        group = [c for c in self.children if names is None or c.name in names]
        for c in group:
            if c.alive():
                try:
                    c.proc.send_signal(signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + timeout
        for c in group:
            try:
                c.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                c.proc.kill()
                c.proc.wait()
            if c.proc.stdout is not None:
                c.proc.stdout.close()
