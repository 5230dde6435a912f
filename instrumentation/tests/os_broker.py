"""Start a private RabbitMQ node for one test session: own ports, node name, epmd and directories."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

_CANDIDATES = ("/usr/lib/rabbitmq/bin/rabbitmq-server", "/usr/lib/rabbitmq/sbin/rabbitmq-server")


def find_rabbitmq_server() -> str | None:
    # The Debian /usr/sbin wrapper switches to the rabbitmq user (and its HOME) when run as root,
    # so prefer the real script behind it.
    for path in _CANDIDATES:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("rabbitmq-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RabbitBroker:
    def __init__(self, executable: str):
        self.executable = executable
        self.dir = tempfile.mkdtemp(prefix="os-rabbit-")
        self.port, self.dist_port, self.epmd_port = _free_port(), _free_port(), _free_port()
        self.node = f"rabbit-test-{os.getpid()}@localhost"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"rabbit://guest:guest@127.0.0.1:{self.port}/"

    def _env(self) -> dict:
        d = self.dir
        with open(os.path.join(d, "enabled_plugins"), "w") as f:
            f.write("[].\n")  # no management plugin: faster start
        open(os.path.join(d, "rabbitmq.conf"), "w").close()
        open(os.path.join(d, "rabbitmq-env.conf"), "w").close()
        env = dict(os.environ)
        env.update(
            HOME=d,  # the Erlang cookie lives here
            RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
            RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port),
            ERL_EPMD_PORT=str(self.epmd_port),  # a private epmd: parallel nodes never share one
            RABBITMQ_MNESIA_BASE=os.path.join(d, "mnesia"),
            RABBITMQ_LOG_BASE=os.path.join(d, "log"),
            RABBITMQ_ENABLED_PLUGINS_FILE=os.path.join(d, "enabled_plugins"),
            RABBITMQ_CONFIG_FILE=os.path.join(d, "rabbitmq"),
            RABBITMQ_ADVANCED_CONFIG_FILE=os.path.join(d, "advanced.config"),
            RABBITMQ_CONF_ENV_FILE=os.path.join(d, "rabbitmq-env.conf"),
            RABBITMQ_PID_FILE=os.path.join(d, "rabbit.pid"),
            RABBITMQ_PLUGINS_EXPAND_DIR=os.path.join(d, "plugins-expand"),
        )
        return env

    def start(self, timeout: float = 90.0) -> None:
        with open(os.path.join(self.dir, "server.out"), "wb") as log:  # the child keeps its own copy
            self.proc = subprocess.Popen(
                [self.executable],
                env=self._env(),
                cwd=self.dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, so stop() ends the whole node
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"rabbitmq-server exited with {self.proc.returncode}: {self.output()[-2000:]}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.2)  # polling a port that is not open yet; no event to wait on
        self.stop()
        raise RuntimeError(f"rabbitmq-server did not listen on {self.port} within {timeout}s")

    def output(self) -> str:
        try:
            with open(os.path.join(self.dir, "server.out"), "rb") as f:
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
            except ProcessLookupError:
                pass
        # epmd daemonises out of the node's process group; end the one this node started.
        epmd = shutil.which("epmd") or "/usr/lib/erlang/bin/epmd"
        if os.path.exists(epmd):
            subprocess.run([epmd, "-port", str(self.epmd_port), "-kill"], capture_output=True, timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)
