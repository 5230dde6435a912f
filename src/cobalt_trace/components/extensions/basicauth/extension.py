"""Server side: `Authorization: Basic` checked against htpasswd entries (file re-read when it
changes).  Client side: the configured username and password sent with every request."""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Mapping

from ....pipeline.auth import AuthenticationError, header_value
from ....pipeline.component import Component
from .htpasswd import check_password, parse_htpasswd

__all__ = ["BasicAuth"]


class BasicAuth(Component):
    def __init__(self, settings, config):
        super().__init__(settings, config)
        self._users: dict[str, str] = {}
        self._stamp = None
        if config.htpasswd is not None:
            self._load()

    def _load(self) -> None:
        text = self.config.htpasswd.inline
        if self.config.htpasswd.file:
            st = os.stat(self.config.htpasswd.file)
            stamp = (st.st_mtime, st.st_size)
            if stamp == self._stamp:
                return
            self._stamp = stamp
            with open(self.config.htpasswd.file, encoding="utf-8") as f:
                text = f.read() + "\n" + text
        self._users = parse_htpasswd(text)

    def authenticate(self, headers: Mapping[str, tuple[str, ...]]) -> dict[str, str]:
        value = header_value(headers, "authorization")
        if not value or not value.startswith("Basic "):
            raise AuthenticationError("missing Basic credentials")
        try:
            user, _, password = base64.b64decode(value[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthenticationError("malformed Basic credentials") from None
        if self.config.htpasswd.file:
            self._load()
        hashed = self._users.get(user)
        if hashed is None or not check_password(hashed, password):
            raise AuthenticationError("invalid username or password")
        return {"username": user, "raw": value[6:]}

    def request_headers(self) -> dict[str, str]:
        c = self.config.client_auth
        token = base64.b64encode(f"{c.username}:{c.password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
