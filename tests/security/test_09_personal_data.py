"""Finding 9: personal data leaked — raw IPs in decision reasons (``accounts_per_ip
9 > 8 (203.0.113.7)``) and logs, raw actor ids in incident keys, raw profile paths in
incident samples, ids starting with ``p_`` logged raw, console tracebacks with local
variables, and one pseudonym key for accounts, IPs and profiles (account "123" and
profile "123" shared a pseudonym).
"""

from __future__ import annotations

import io

import orjson
import structlog

from models import REGISTRY
from stream.core import side_inputs
from stream.core.incidents import IncidentBook
from stream.core.internal_records import GroupSignal
from stream.core.ledger import LedgerCodec
from stream.core.partition_detector import PartitionDetector
from stream.core.policy_loader import load_policy
from stream.core.pseudonym import Pseudonymizer
from stream.logconfig import configure_logging
from tests.helpers import T0, event, group_member, rec

KEY = b"the-pseudonym-key-of-this-worker-32b"
NOW = T0 + 86_400


def detector() -> PartitionDetector:
    det = PartitionDetector(
        "requests", 0, load_policy(), REGISTRY.get("hst").build(), "hst@1", clock=lambda: NOW
    )
    det.ledger = LedgerCodec(Pseudonymizer(KEY), None)
    det.pseudo = det.ledger.pseudonymizer  # what the worker does
    return det


def test_group_reasons_and_triggers_name_no_raw_address() -> None:
    det = detector()
    # a group challenges only members with evidence of their own
    det.actors.put("account:alice", group_member(0.9, T0))
    sig = GroupSignal("account:alice", "ip:203.0.113.7", "accounts_per_ip", 9, 8, T0, T0 + 3600)
    out = side_inputs.apply_group_signals(det, [sig])
    assert out.decisions, "the signal should challenge"
    published = b"".join(d.encode() for d in out.decisions) + b"".join(f.encode() for f in out.feed)
    assert b"203.0.113.7" not in published
    assert out.decisions[0].reasons[0].startswith("accounts_per_ip 9 > 8 (p_")


RAW_ACCOUNT, RAW_IP, RAW_PROFILE = "bob-raw-account", "2001:db8:77:1::9", "555000"


def test_incident_keys_and_samples_hold_no_raw_identifier() -> None:
    det = detector()
    records = [
        rec(
            i,
            event(
                i,
                NOW - 600 + i,
                RAW_ACCOUNT,
                ip=RAW_IP,
                path=f"/profiles/{int(RAW_PROFILE) + i}?ref=search",
                target_profile_id=str(int(RAW_PROFILE) + i),
                fields=["name"],
            ),
        )
        for i in range(400)
    ]
    feed = []
    for i in range(0, 400, 100):
        feed += det.process(records[i : i + 100]).feed
    assert any(f.kind == "decision" for f in feed)
    book = IncidentBook(pseudonymize=Pseudonymizer(KEY).actor)
    incidents, _ = book.process(feed)
    assert incidents
    text = b" ".join(inc.encode() for inc in incidents).decode() + " ".join(f.key for f in feed)
    for raw in (RAW_ACCOUNT, RAW_IP, "2001:db8:77:1::/64", RAW_PROFILE, str(int(RAW_PROFILE) + 9)):
        assert raw not in text, raw


def test_logs_pseudonymise_every_identifier_even_one_that_looks_like_a_pseudonym() -> None:
    buf = io.StringIO()
    configure_logging(level="info", fmt="json", stream=buf, pseudonymizer=Pseudonymizer(KEY))
    structlog.get_logger("t").info(
        "decision",
        actor="account:p_victim-raw",
        account_id="p_victim-raw",
        ip="203.0.113.7",
        group="ip:203.0.113.8",
    )
    out = buf.getvalue()
    for raw in ("p_victim-raw", "203.0.113.7", "203.0.113.8"):
        assert raw not in out, raw
    assert orjson.loads(out.splitlines()[0])["actor"].startswith("account:p_")


def test_each_kind_of_identifier_has_a_key_of_its_own() -> None:
    p = Pseudonymizer(KEY)
    as_profile = LedgerCodec(p, None).profile("123")[0]
    assert p.actor("account:123").split(":", 1)[1] != as_profile
    assert p.actor("session:123").split(":", 1)[1] != as_profile
    assert p.actor("account:123").split(":", 1)[1] != p.actor("session:123").split(":", 1)[1]


def test_console_tracebacks_show_no_local_variables() -> None:
    buf = io.StringIO()
    configure_logging(level="info", fmt="console", stream=buf, pseudonymizer=Pseudonymizer(KEY))
    log = structlog.get_logger("t")

    def handle(doc: dict[str, str]) -> None:
        victim_ip = doc["ip"]  # a local the traceback must not print
        raise ValueError(f"cannot handle event {len(victim_ip)}")

    secret = ".".join(str(n) for n in (198, 51, 100, 234))  # not in the source rich shows
    try:
        handle({"ip": secret})
    except ValueError:
        log.exception("processing_error")
    out = buf.getvalue()
    assert "cannot handle event" in out and "Traceback" in out
    assert secret not in out


def test_error_texts_in_logs_pseudonymise_what_they_quote() -> None:
    # a decoder's message quotes the record it refused (second review): the key and the
    # actor of a record keyed by another actor, an address that does not parse
    buf = io.StringIO()
    configure_logging(level="info", fmt="json", stream=buf, pseudonymizer=Pseudonymizer(KEY))
    log = structlog.get_logger("t")
    log.warning("bad_record", error="keyed 'bob' but about 'ip:203.0.113.9': key it so")
    log.warning("outcome_skipped", error="ValueError: \"p_victim\" is not an address; '' empty")
    log.warning("bad_record", error="key 'k\udcff' refused")  # a lone surrogate: no exception
    log.warning("bad_record", error="the actor's key 'account:carol' is not its own")
    # other errors name hosts and settings, not people: left as they are
    log.warning("fetch_failed", error="cannot reach 'kafka-1:9092'")
    lines = [orjson.loads(line)["error"] for line in buf.getvalue().splitlines()]
    for raw in ("bob", "203.0.113.9", "p_victim", "carol"):
        assert not any(raw in line for line in lines[:4]), raw
    assert lines[0].startswith("keyed 'p_") and "but about 'ip:p_" in lines[0]
    assert lines[1].endswith("is not an address; '' empty")
    assert lines[2] == "key '<not UTF-8>' refused"
    assert lines[3].startswith("the actor's key 'account:p_")
    assert lines[4] == "cannot reach 'kafka-1:9092'"
