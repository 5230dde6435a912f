"""Bearer tokens from the config or from a file that may change: the file is re-read when its
modification time or size changes (checked at most once a second), so a rotated token is picked
up without a restart; the previous tokens stay valid until the file changes."""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Mapping

from ....pipeline.auth import AuthenticationError, header_value
from ....pipeline.component import Component

__all__ = ["BearerTokenAuth"]

_RECHECK_SECONDS = 1.0


class BearerTokenAuth(Component):
    def __init__(self, settings, config):
        super().__init__(settings, config)
        self._tokens: list[str] = [config.token] if config.token else list(config.tokens)
        self._stamp: tuple[float, int] | None = None
        self._checked = 0.0
        self._log = settings.telemetry.child_logger(str(settings.id))
        if config.filename:
            self._reload()

    def _reload(self) -> None:
        try:
            st = os.stat(self.config.filename)
        except OSError as exc:
            self._log.error("cannot read token file %s: %s", self.config.filename, exc)
            return
        stamp = (st.st_mtime, st.st_size)
        if stamp == self._stamp:
            return
        with open(self.config.filename, encoding="utf-8") as f:
            tokens = [line.strip() for line in f if line.strip()]
        self._stamp = stamp
        if tokens:
            self._tokens = tokens
            self._log.info("loaded %d bearer token(s) from %s", len(tokens), self.config.filename)

    def _current(self) -> list[str]:
        if self.config.filename:
            now = time.monotonic()
            if now - self._checked >= _RECHECK_SECONDS:
                self._checked = now
                self._reload()
        return self._tokens

    # server side
    def authenticate(self, headers: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
        value = header_value(headers, self.config.header)
        if not value:
            raise AuthenticationError(f"missing {self.config.header} header")
        prefix = f"{self.config.scheme} " if self.config.scheme else ""
        if prefix and not value.startswith(prefix):
            raise AuthenticationError(
                f"{self.config.header} header does not use the {self.config.scheme} scheme"
            )
        presented = value[len(prefix) :].encode()
        if not any(hmac.compare_digest(presented, t.encode()) for t in self._current()):
            raise AuthenticationError("invalid bearer token")
        return {}

    # client side
    def request_headers(self) -> dict[str, str]:
        tokens = self._current()
        token = tokens[0] if tokens else ""
        return {self.config.header: f"{self.config.scheme} {token}" if self.config.scheme else token}
