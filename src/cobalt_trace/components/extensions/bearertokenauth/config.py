"""`bearertokenauth` settings, as contrib's `extension/bearertokenauthextension`."""

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["BearerTokenAuthConfig"]


@dataclass
class BearerTokenAuthConfig:
    header: str = "Authorization"
    scheme: str = "Bearer"
    token: str = ""
    tokens: list[str] = field(default_factory=list)
    filename: str = ""

    def validate(self) -> list[str]:
        given = [bool(self.token), bool(self.tokens), bool(self.filename)]
        if sum(given) == 0:
            return ["token: one of token, tokens or filename must be set"]
        if sum(given) > 1:
            return ["token: set only one of token, tokens or filename"]
        if self.filename and not Path(self.filename).is_file():
            return [f"filename: file {self.filename!r} does not exist"]
        return []
