"""bearertokenauth and basicauth: server-side checks, client-side headers, token file rotation."""

from __future__ import annotations

import base64
import os
import subprocess
import time

import pytest

from cobalt_trace.components.extensions.basicauth.factory import FACTORY as BASIC
from cobalt_trace.components.extensions.basicauth.htpasswd import check_password
from cobalt_trace.components.extensions.bearertokenauth import extension as bearer_module
from cobalt_trace.components.extensions.bearertokenauth.factory import FACTORY as BEARER
from cobalt_trace.pipeline.auth import AuthenticationError, ClientAuthenticator, ServerAuthenticator
from cobalt_trace.pipeline.component import ComponentID, CreateSettings, Kind
from cobalt_trace.pipeline.configtypes import decode
from cobalt_trace.pipeline.telemetry import Telemetry


def make(factory, raw):
    config, errors = decode(factory.config_type, raw, f"extensions::{factory.type}")
    assert errors == [], errors
    settings = CreateSettings(ComponentID(factory.type), Kind.EXTENSION, Telemetry())
    return factory.create(settings, config, None)


def headers(value: str | None) -> dict[str, tuple[str, ...]]:
    return {} if value is None else {"authorization": (value,)}


def test_bearer_token_checks_scheme_and_value():
    auth = make(BEARER, {"token": "s3cret"})
    assert isinstance(auth, ServerAuthenticator) and isinstance(auth, ClientAuthenticator)
    assert auth.authenticate(headers("Bearer s3cret")) == {}
    for bad in (None, "Bearer nope", "Basic s3cret", "s3cret", "Bearer "):
        with pytest.raises(AuthenticationError):
            auth.authenticate(headers(bad))
    assert auth.request_headers() == {"Authorization": "Bearer s3cret"}


def test_bearer_token_file_rotation_is_picked_up(tmp_path, monkeypatch):
    monkeypatch.setattr(bearer_module, "_RECHECK_SECONDS", 0.0)
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    auth = make(BEARER, {"filename": str(token_file)})
    auth.authenticate(headers("Bearer first"))
    token_file.write_text("second-token\n")
    os.utime(token_file, (time.time() + 5, time.time() + 5))
    auth.authenticate(headers("Bearer second-token"))
    with pytest.raises(AuthenticationError):
        auth.authenticate(headers("Bearer first"))
    assert auth.request_headers() == {"Authorization": "Bearer second-token"}


def test_bearer_config_errors():
    _, errors = decode(BEARER.config_type, {}, "extensions::bearertokenauth")
    assert errors == ["extensions::bearertokenauth::token: one of token, tokens or filename must be set"]
    _, errors = decode(BEARER.config_type, {"filename": "/nonexistent"}, "extensions::bearertokenauth")
    assert "does not exist" in errors[0]


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_basic_auth_with_htpasswd_formats(tmp_path):
    apr1 = subprocess.run(["openssl", "passwd", "-apr1", "pw-md5"], capture_output=True, text=True)
    lines = [
        "plain:pw-plain",
        "sha:{SHA}" + base64.b64encode(__import__("hashlib").sha1(b"pw-sha").digest()).decode(),
    ]
    if apr1.returncode == 0:
        lines.append("md5:" + apr1.stdout.strip())
    file = tmp_path / "htpasswd"
    file.write_text("\n".join(lines) + "\n")
    auth = make(BASIC, {"htpasswd": {"file": str(file)}})
    assert auth.authenticate(headers(basic("plain", "pw-plain")))["username"] == "plain"
    assert auth.authenticate(headers(basic("sha", "pw-sha")))["username"] == "sha"
    if apr1.returncode == 0:
        assert auth.authenticate(headers(basic("md5", "pw-md5")))["username"] == "md5"
    for bad in (basic("plain", "wrong"), basic("nobody", "x"), "Basic !!!", "Bearer x", None):
        with pytest.raises(AuthenticationError):
            auth.authenticate(headers(bad))


def test_basic_auth_client_side():
    auth = make(BASIC, {"client_auth": {"username": "gw", "password": "p:w"}})
    assert auth.request_headers() == {"Authorization": basic("gw", "p:w")}


def test_apr1_known_answer():
    # produced by `openssl passwd -apr1 -salt abcdefgh 's3cr3t!pass'`
    assert check_password("$apr1$abcdefgh$TvFZBjFJEPBOCJfHcGWzg1", "s3cr3t!pass")
    assert not check_password("$apr1$abcdefgh$TvFZBjFJEPBOCJfHcGWzg1", "s3cr3t!pas")
