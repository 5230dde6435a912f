"""otlp receiver config: upstream defaults, enabling protocols by listing them, errors with paths."""

from __future__ import annotations

from cobalt_trace.components.receivers.otlp.config import OtlpReceiverConfig
from cobalt_trace.components.receivers.otlp.factory import FACTORY
from cobalt_trace.components.receivers.otlp.receiver import OtlpReceiver
from cobalt_trace.pipeline.component import Kind
from cobalt_trace.pipeline.configtypes import decode


def decode_otlp(raw):
    return decode(OtlpReceiverConfig, raw, "receivers::otlp")


def test_factory_is_the_otlp_receiver():
    assert (FACTORY.type, FACTORY.kind, FACTORY.config_type) == ("otlp", Kind.RECEIVER, OtlpReceiverConfig)


def test_null_protocol_means_enabled_with_defaults():
    cfg, errors = decode_otlp({"protocols": {"grpc": None, "http": None}})
    assert errors == []
    assert cfg.protocols.grpc.endpoint == "localhost:4317"
    assert cfg.protocols.grpc.max_recv_msg_size_mib == 0
    assert cfg.protocols.grpc.include_metadata is False
    http = cfg.protocols.http
    assert http.endpoint == "localhost:4318"
    assert http.traces_url_path == "/v1/traces"
    assert http.max_request_body_size == 20 * 1024 * 1024
    assert http.compression_algorithms == ["", "gzip", "zstd", "zlib", "snappy", "deflate", "lz4"]
    assert http.cors is None


def test_unlisted_protocol_stays_disabled():
    cfg, errors = decode_otlp({"protocols": {"http": {"endpoint": "0.0.0.0:4318"}}})
    assert errors == []
    assert cfg.protocols.grpc is None
    assert cfg.protocols.http.endpoint == "0.0.0.0:4318"


def test_no_protocol_is_an_error():
    for raw in (None, {}, {"protocols": {}}, {"protocols": None}):
        _, errors = decode_otlp(raw)
        assert errors == [
            "receivers::otlp::protocols: must specify at least one protocol when using the OTLP receiver"
        ], raw


def test_unknown_keys_are_rejected_with_their_path():
    _, errors = decode_otlp(
        {"protocols": {"grpc": {"endpoint": "x:1", "max_recv_msg_size": 4}, "thrift": {}}}
    )
    assert "receivers::otlp::protocols: has invalid keys: thrift" in errors
    assert "receivers::otlp::protocols::grpc: has invalid keys: max_recv_msg_size" in errors


def test_nested_settings_decode():
    cfg, errors = decode_otlp(
        {
            "protocols": {
                "grpc": {
                    "endpoint": "0.0.0.0:4317",
                    "max_recv_msg_size_mib": 16,
                    "keepalive": {
                        "server_parameters": {"max_connection_age": "30s", "time": "10s"},
                        "enforcement_policy": {"min_time": "5s", "permit_without_stream": True},
                    },
                },
                "http": {
                    "traces_url_path": "traces",
                    "cors": {"allowed_origins": ["https://*.example.com"], "max_age": 7200},
                    "response_headers": {"X-Served-By": "cobalt"},
                },
            }
        }
    )
    assert errors == []
    assert cfg.protocols.grpc.keepalive.server_parameters.max_connection_age == 30
    assert cfg.protocols.grpc.keepalive.enforcement_policy.permit_without_stream is True
    assert cfg.protocols.http.traces_path == "/traces"  # upstream adds the missing slash
    assert cfg.protocols.http.cors.allowed_origins == ["https://*.example.com"]


def test_invalid_values_name_their_keys(tmp_path):
    _, errors = decode_otlp(
        {
            "protocols": {
                "grpc": {"endpoint": "localhost", "max_concurrent_streams": -1},
                "http": {
                    "max_request_body_size": 0,
                    "compression_algorithms": ["gzip", "brotli"],
                    "tls": {"cert_file": str(tmp_path / "missing.crt"), "key_file": str(tmp_path / "k")},
                },
            }
        }
    )
    text = "\n".join(errors)
    assert "receivers::otlp::protocols::grpc::endpoint: 'localhost' must be host:port" in text
    assert "receivers::otlp::protocols::grpc::max_concurrent_streams: must not be negative" in text
    assert "receivers::otlp::protocols::http::max_request_body_size: must be positive" in text
    assert "receivers::otlp::protocols::http::compression_algorithms: unsupported 'brotli'" in text
    assert "receivers::otlp::protocols::http::tls::cert_file: file" in text


def test_auth_needs_an_authenticator_name():
    _, errors = decode_otlp({"protocols": {"http": {"auth": {}}}})
    assert errors == ["receivers::otlp::protocols::http::auth::authenticator: must name an extension"]


def test_create_returns_a_receiver():
    cfg, _ = decode_otlp({"protocols": {"grpc": None}})
    from cobalt_trace.pipeline.component import ComponentID, CreateSettings
    from cobalt_trace.pipeline.telemetry import Telemetry

    rcv = FACTORY.create(CreateSettings(ComponentID("otlp"), Kind.RECEIVER, Telemetry()), cfg, object())
    assert isinstance(rcv, OtlpReceiver)
    assert rcv.grpc_port is None and rcv.http_port is None
