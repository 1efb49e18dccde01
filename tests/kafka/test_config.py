"""SASL/TLS settings reach every Kafka client scrapeguard creates; secrets stay secret."""

import ssl
from pathlib import Path

import pytest

from stream.kafka.config import aiokafka_kwargs, faust_kwargs, kafka_python_kwargs
from stream.settings import Settings


@pytest.fixture
def tls_files(tmp_path: Path) -> dict[str, Path]:
    """A throwaway self-signed certificate and its key."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    files = {"ca": tmp_path / "ca.pem", "cert": tmp_path / "cert.pem", "key": tmp_path / "key.pem"}
    pem = cert.public_bytes(serialization.Encoding.PEM)
    files["ca"].write_bytes(pem)
    files["cert"].write_bytes(pem)
    files["key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


def test_sasl_ssl_reaches_every_client(tls_files: dict[str, Path]) -> None:
    s = Settings(
        broker="kafka://k1:9093,k2:9093",
        security_protocol="SASL_SSL",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="svc",
        sasl_password="hunter2",  # type: ignore[arg-type]
        ssl_cafile=tls_files["ca"],
        ssl_certfile=tls_files["cert"],
        ssl_keyfile=tls_files["key"],
    )
    a = aiokafka_kwargs(s)
    assert a["security_protocol"] == "SASL_SSL" and isinstance(a["ssl_context"], ssl.SSLContext)
    assert (a["sasl_mechanism"], a["sasl_plain_username"], a["sasl_plain_password"]) == (
        "SCRAM-SHA-512",
        "svc",
        "hunter2",
    )
    k = kafka_python_kwargs(s)
    assert k["ssl_cafile"] == str(tls_files["ca"]) and k["sasl_plain_password"] == "hunter2"
    assert k["bootstrap_servers"] == ["k1:9093", "k2:9093"]
    f = faust_kwargs(s)
    creds = f["broker_credentials"]
    assert creds.username == "svc" and creds.mechanism.value == "SCRAM-SHA-512"
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.model_dump())


def test_tls_without_sasl(tls_files: dict[str, Path]) -> None:
    s = Settings(security_protocol="SSL", ssl_cafile=tls_files["ca"])
    assert isinstance(aiokafka_kwargs(s)["ssl_context"], ssl.SSLContext)
    assert "sasl_mechanism" not in kafka_python_kwargs(s)
    assert faust_kwargs(s)["broker_credentials"].__class__.__name__ == "SSLCredentials"


def test_plaintext_by_default() -> None:
    s = Settings()
    assert aiokafka_kwargs(s)["security_protocol"] == "PLAINTEXT"
    assert "ssl_context" not in aiokafka_kwargs(s) and "broker_credentials" not in faust_kwargs(s)


def test_sasl_needs_a_mechanism() -> None:
    with pytest.raises(ValueError, match="SASL_MECHANISM"):
        aiokafka_kwargs(Settings(security_protocol="SASL_PLAINTEXT"))


def test_both_groups_take_the_session_setting_with_a_heartbeat_every_sixth_of_it() -> None:
    from stream.kafka.config import group_timing

    assert group_timing(Settings()) == (6.0, 1.0)  # Apache Kafka's minimum by default
    assert group_timing(Settings(group_session_timeout_s=3.0)) == (3.0, 0.5)


def test_a_session_under_a_second_is_refused() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Settings(group_session_timeout_s=0.5)
