"""The demo's message broker: a private RabbitMQ node when `rabbitmq-server` is installed, otherwise
kombu's filesystem transport in a RAM-backed folder, which oslo.messaging's rabbit driver drives
across processes without any broker process.

Why not `fake://` or `kombu+memory://`: both keep their queues in one process's memory, and every
simulated service is its own process (the instrumentation installs one TracerProvider, and so one
`service.name`, per process, exactly as in a real deployment).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Broker", "RabbitMQNode", "FilesystemBroker", "choose_broker", "find_rabbitmq_server"]

_RABBIT_SCRIPTS = ("/usr/lib/rabbitmq/bin/rabbitmq-server", "/usr/lib/rabbitmq/sbin/rabbitmq-server")


def find_rabbitmq_server() -> str | None:
    # The Debian /usr/sbin wrapper switches to the rabbitmq user (and its HOME) when run as root;
    # the real script behind it runs as whoever starts it.
    for path in _RABBIT_SCRIPTS:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("rabbitmq-server")


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class Broker:
    kind: str  # "rabbitmq" | "filesystem"
    url: str  # oslo.messaging transport_url
    description: str  # one line for the banner
    workdir: str = ""  # services run here (the filesystem transport's folders are relative)

    def start(self, preexec_fn=None) -> None:
        pass

    def wait_ready(self, timeout: float) -> None:
        pass

    def stop(self) -> None:
        pass


class RabbitMQNode(Broker):
    """A throw-away RabbitMQ node: own node name, ports, epmd and directories; no plugins."""

    def __init__(self, executable: str, host: str, port: int, state_dir: Path):
        self.executable = executable
        self.host = host
        self.port = port
        self.dir = Path(tempfile.mkdtemp(prefix="rabbitmq-", dir=state_dir))
        self.dist_port, self.epmd_port = _free_port("127.0.0.1"), _free_port("127.0.0.1")
        self.node = f"cobalt-demo-{os.getpid()}@localhost"
        self.proc: subprocess.Popen | None = None
        self.epmd: subprocess.Popen | None = None
        super().__init__(
            kind="rabbitmq",
            url=f"rabbit://guest:guest@{host}:{port}/",
            description=f"RabbitMQ {host}:{port} (private node {self.node}, {executable})",
        )

    def _env(self) -> dict:
        d = self.dir
        (d / "enabled_plugins").write_text("[].\n")  # no management plugin: faster start
        # guest may log in from loopback only, which 127.0.2.1 is not in RabbitMQ's eyes.
        (d / "rabbitmq.conf").write_text("loopback_users = none\n")
        (d / "rabbitmq-env.conf").write_text("")
        return dict(
            os.environ,
            HOME=str(d),  # the Erlang cookie lives here
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS=self.host,
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            ERL_EPMD_PORT=str(self.epmd_port),  # a private epmd, never shared with another node
            ERL_EPMD_ADDRESS="127.0.0.1",
            RABBITMQ_MNESIA_BASE=str(d / "mnesia"),
            RABBITMQ_LOG_BASE=str(d / "log"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(d / "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=str(d / "rabbitmq"),
            RABBITMQ_ADVANCED_CONFIG_FILE=str(d / "advanced.config"),
            RABBITMQ_CONF_ENV_FILE=str(d / "rabbitmq-env.conf"),
            RABBITMQ_PID_FILE=str(d / "rabbit.pid"),
            RABBITMQ_PLUGINS_EXPAND_DIR=str(d / "plugins-expand"),
        )

    def _start_epmd(self, preexec_fn) -> None:
        """Our own epmd in the foreground: the node would otherwise start one as a daemon that
        outlives the demo if the demo is killed."""
        epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        if not os.path.exists(epmd):
            return  # the node starts its own
        self.epmd = subprocess.Popen(
            [epmd, "-port", str(self.epmd_port), "-address", "127.0.0.1"],
            env=dict(os.environ, HOME=str(self.dir)),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=preexec_fn,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.epmd.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", self.epmd_port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)

    def start(self, preexec_fn=None) -> None:
        self._start_epmd(preexec_fn)
        with open(self.dir / "server.out", "wb") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                [self.executable],
                env=self._env(),
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group: stop() ends the whole node
                preexec_fn=preexec_fn,
            )

    def wait_ready(self, timeout: float) -> None:
        assert self.proc is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = (self.dir / "server.out").read_text(errors="replace")[-1500:]
                raise RuntimeError(f"rabbitmq-server exited with {self.proc.returncode}: {tail}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)  # nothing to wait on but the port
        raise RuntimeError(f"rabbitmq-server did not listen on {self.host}:{self.port} within {timeout:.0f}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
            except ProcessLookupError:
                pass
        if self.epmd is not None and self.epmd.poll() is None:
            self.epmd.terminate()
            try:
                self.epmd.wait(10)
            except subprocess.TimeoutExpired:
                self.epmd.kill()
                self.epmd.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class FilesystemBroker(Broker):
    """kombu's filesystem transport (`kombu+filesystem://`): each message a file, exchange bindings
    in a control folder, so processes that share the folder share queues.  The folder lives in
    /dev/shm when there is one, i.e. in memory.  kombu reads `data_in` and writes `data_out`
    (relative to the working directory, as oslo.messaging passes no transport options); the two
    are one folder here, and the services run in it."""

    def __init__(self, state_dir: Path):
        shm = Path("/dev/shm")
        base = shm if shm.is_dir() and os.access(shm, os.W_OK) else state_dir
        workdir = Path(tempfile.mkdtemp(prefix="cobalt-demo-broker-", dir=base))
        super().__init__(
            kind="filesystem",
            url="kombu+filesystem://",
            description=f"no rabbitmq-server installed: in-memory kombu filesystem transport in {workdir}",
            workdir=str(workdir),
        )

    def start(self, preexec_fn=None) -> None:
        work = Path(self.workdir)
        (work / "data_out").mkdir(exist_ok=True)
        (work / "control").mkdir(exist_ok=True)
        if not (work / "data_in").exists():
            (work / "data_in").symlink_to("data_out")

    def stop(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def choose_broker(choice: str, host: str, port: int, state_dir: Path) -> Broker:
    """`auto`: RabbitMQ when installed, else the filesystem transport; `rabbitmq` insists."""
    if choice not in ("auto", "rabbitmq", "memory"):
        raise ValueError(f"invalid transport {choice!r}: expected auto, rabbitmq or memory")
    if choice != "memory":
        executable = find_rabbitmq_server()
        if executable:
            return RabbitMQNode(executable, host, port, state_dir)
        if choice == "rabbitmq":
            raise ValueError("--transport rabbitmq: rabbitmq-server is not installed")
    return FilesystemBroker(state_dir)
