"""Checking passwords against htpasswd entries: bcrypt ($2y$/$2b$, needs the `bcrypt` package),
Apache MD5 ($apr1$), SHA-1 ({SHA}) and plain text — the formats `htpasswd` writes."""

from __future__ import annotations

import base64
import hashlib
import hmac

__all__ = ["parse_htpasswd", "check_password"]

_ITOA64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def parse_htpasswd(text: str) -> dict[str, str]:
    users = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and ":" in line:
            user, hashed = line.split(":", 1)
            users[user] = hashed
    return users


def _apr1(password: bytes, salt: bytes) -> str:
    """The Apache variant of the FreeBSD MD5 crypt."""
    magic = b"$apr1$"
    ctx = hashlib.md5(password + magic + salt)
    alt = hashlib.md5(password + salt + password).digest()
    for i in range(len(password), 0, -16):
        ctx.update(alt[: min(16, i)])
    i = len(password)
    while i:
        ctx.update(b"\0" if i & 1 else password[:1])
        i >>= 1
    final = ctx.digest()
    for i in range(1000):
        c = hashlib.md5()
        c.update(password if i & 1 else final)
        if i % 3:
            c.update(salt)
        if i % 7:
            c.update(password)
        c.update(final if i & 1 else password)
        final = c.digest()

    def to64(v: int, n: int) -> str:
        out = ""
        for _ in range(n):
            out += _ITOA64[v & 0x3F]
            v >>= 6
        return out

    f = final
    encoded = (
        to64((f[0] << 16) | (f[6] << 8) | f[12], 4)
        + to64((f[1] << 16) | (f[7] << 8) | f[13], 4)
        + to64((f[2] << 16) | (f[8] << 8) | f[14], 4)
        + to64((f[3] << 16) | (f[9] << 8) | f[15], 4)
        + to64((f[4] << 16) | (f[10] << 8) | f[5], 4)
        + to64(f[11], 2)
    )
    return f"$apr1${salt.decode()}${encoded}"


def check_password(hashed: str, password: str) -> bool:
    pw = password.encode()
    if hashed.startswith(("$2y$", "$2b$", "$2a$")):
        try:
            import bcrypt
        except ImportError:
            raise RuntimeError("bcrypt htpasswd entries need the 'bcrypt' package") from None
        return bcrypt.checkpw(pw, hashed.replace("$2y$", "$2b$", 1).encode())
    if hashed.startswith("$apr1$"):
        salt = hashed.split("$")[2].encode()
        return hmac.compare_digest(_apr1(pw, salt), hashed)
    if hashed.startswith("{SHA}"):
        digest = base64.b64encode(hashlib.sha1(pw).digest()).decode()
        return hmac.compare_digest(digest, hashed[5:])
    return hmac.compare_digest(hashed, password)
