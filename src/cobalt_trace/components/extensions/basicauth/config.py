"""`basicauth` settings, as contrib's `extension/basicauthextension`."""

from dataclasses import dataclass
from pathlib import Path

__all__ = ["BasicAuthConfig", "Htpasswd", "ClientAuth"]


@dataclass
class Htpasswd:
    file: str = ""
    inline: str = ""


@dataclass
class ClientAuth:
    username: str = ""
    password: str = ""


@dataclass
class BasicAuthConfig:
    htpasswd: Htpasswd | None = None
    client_auth: ClientAuth | None = None

    def validate(self) -> list[str]:
        if self.htpasswd is None and self.client_auth is None:
            return ["htpasswd: either htpasswd or client_auth must be set"]
        if self.htpasswd is not None and self.client_auth is not None:
            return ["htpasswd: htpasswd and client_auth cannot both be set"]
        if self.htpasswd is not None:
            if not (self.htpasswd.file or self.htpasswd.inline):
                return ["htpasswd: file or inline must be set"]
            if self.htpasswd.file and not Path(self.htpasswd.file).is_file():
                return [f"htpasswd::file: file {self.htpasswd.file!r} does not exist"]
        if self.client_auth is not None and not self.client_auth.username:
            return ["client_auth::username: must be set"]
        return []
