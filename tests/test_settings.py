from pathlib import Path

import pytest
from pydantic import ValidationError

from stream.settings import Settings, bootstrap_servers

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / "deploy" / "scrapeguard.env.example"


def test_defaults() -> None:
    s = Settings()
    assert s.bootstrap == ["127.0.0.1:9092"] and s.is_default_broker
    assert (s.topic_requests, s.topic_decisions, s.topic_deadletter) == (
        "requests",
        "decisions",
        "deadletter",
    )
    assert s.partitions == 8


def test_environment_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCRAPEGUARD_BROKER", "kafka://k1:9093,k2:9094")
    monkeypatch.setenv("SCRAPEGUARD_SASL_PASSWORD", "hunter2")
    s = Settings()
    assert s.bootstrap == ["k1:9093", "k2:9094"] and not s.is_default_broker
    assert "hunter2" not in repr(s)  # secrets stay secret
    assert s.sasl_password is not None and s.sasl_password.get_secret_value() == "hunter2"


@pytest.mark.parametrize("url", ["http://x:1", "kafka://:9092", "kafka://h:notaport", ""])
def test_bad_broker_urls(url: str) -> None:
    with pytest.raises((ValueError, ValidationError)):
        Settings(broker=url)


def test_bare_host_port() -> None:
    assert bootstrap_servers("h:1;g") == ["h:1", "g:9092"]


def test_every_setting_is_documented_in_the_env_example() -> None:
    text = ENV_EXAMPLE.read_text()
    missing = [n for n in Settings.model_fields if f"SCRAPEGUARD_{n.upper()}=" not in text]
    assert missing == []
