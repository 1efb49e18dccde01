import io
import logging

import orjson
import structlog

from stream.core.pseudonym import Pseudonymizer
from stream.logconfig import configure_logging

RAW = {"account": "alice-raw-4242", "ip": "203.0.113.77", "profile": "profile-raw-999"}


def logged(enabled: bool) -> str:
    buf = io.StringIO()
    configure_logging(
        level="info",
        fmt="json",
        stream=buf,
        pseudonymizer=Pseudonymizer(b"k" * 32, enabled=enabled),
    )
    log = structlog.get_logger("test")
    log.info(
        "decision",
        actor=f"account:{RAW['account']}",
        ip=RAW["ip"],
        target_profile_id=RAW["profile"],
        profiles=[RAW["profile"]],
    )
    logging.getLogger("third.party").warning("plain stdlib line")
    return buf.getvalue()


def test_raw_identifiers_never_reach_the_log() -> None:
    out = logged(enabled=True)
    for raw in RAW.values():
        assert raw not in out
    first = orjson.loads(out.splitlines()[0])
    assert first["actor"].startswith("account:p_")
    assert first["ip"].startswith("p_") and first["target_profile_id"].startswith("p_")
    assert "plain stdlib line" in out  # stdlib logs join the same JSON stream


def test_raw_identifiers_when_the_setting_says_so() -> None:
    out = logged(enabled=False)
    assert RAW["account"] in out and RAW["ip"] in out


def test_pseudonyms_are_stable_keyed_and_keep_the_actor_kind() -> None:
    a, b = Pseudonymizer(b"key-a"), Pseudonymizer(b"key-b")
    assert a.actor("acme/account:42") == a.actor("acme/account:42")
    assert a.actor("acme/account:42").startswith("acme/account:p_")
    assert a.token("42", "account") != b.token("42", "account")
    assert a.token("42", "account") != a.token("42", "profile")  # a key per kind
