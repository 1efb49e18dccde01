"""The published JSON Schemas (docs/schemas/) agree with the code that reads the topics.

* request events: valid by the schema ⇔ accepted by ``validate_doc``, on documents that
  hypothesis builds from valid and invalid values of every field. Three checks of the
  validator are outside the schema because they need a clock, a calendar or another
  field, and the strategy keeps away from them: ``ts`` at most ``max_future_skew_s`` past
  the worker's clock (every generated time is before ``NOW``); ISO-8601 strings that
  match the pattern but are no real date or fall on 1999-12-31 in UTC (generated ISO
  strings are real dates from 2001 on); ``account_created_ts`` after the event's ``ts``
  (every generated creation time is before 2000). One difference of JSON itself: JSON
  Schema counts ``200.0`` as an integer, the validator wants an integer token, so the
  strategy never makes a float with no fractional part where an integer is expected.
  Every limit of every field is also checked on both sides in a table (``BOUNDARIES``);
  an account made after its event is refused by the validator alone (test_validation).
* decisions: valid by the schema ⇔ :meth:`Decision.from_dict` accepts; every decision
  the pipeline makes is valid.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from stream.core.records import _DECISION_KEYS, Decision, RequestEvent
from stream.core.validation import MIN_TS, Invalid, validate, validate_doc

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
EVENT_SCHEMA = orjson.loads((SCHEMAS / "request-event.schema.json").read_bytes())
DECISION_SCHEMA = orjson.loads((SCHEMAS / "decision.schema.json").read_bytes())
EVENTS = Draft202012Validator(EVENT_SCHEMA, format_checker=Draft202012Validator.FORMAT_CHECKER)
DECISIONS = Draft202012Validator(DECISION_SCHEMA)
NOW = datetime(2040, 1, 1, tzinfo=UTC).timestamp()  # after every generated event time

# -- value strategies ---------------------------------------------------------------------
ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
fractional = st.floats(allow_nan=False, allow_infinity=False).filter(lambda x: not x.is_integer())
junk = st.one_of(st.booleans(), st.lists(st.integers(), max_size=2), st.just({"a": 1}))
text = st.text(max_size=20)


@st.composite
def iso_times(draw: st.DrawFn, earliest: datetime) -> str:
    when = draw(
        st.datetimes(min_value=earliest.replace(tzinfo=None), max_value=datetime(2035, 1, 1))
    )
    fmt = draw(
        st.sampled_from(
            [
                "%Y-%m-%d",
                "%Y-%m-%dT%H",
                "%Y-%m-%dT%H:%M",
                "%Y-%m-%d %H:%M:%S",
                "%Y-%m-%dT%H:%M:%S.%f",
            ]
        )
    )
    offset = "" if fmt == "%Y-%m-%d" else draw(st.sampled_from(["", "Z", "+02:00", "-05:30"]))
    return when.strftime(fmt) + offset


noise = st.text(alphabet="abcxyz:-. ", max_size=12)  # never a date, never an address
# identifiers: mostly printable; sometimes with '/' or a control character (both refused)
printable = st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="/")
identifiers = st.one_of(
    st.none(),
    st.text(printable, max_size=8),
    st.text(max_size=8),
    st.text(printable, min_size=510, max_size=514),
    ints,
    fractional,
    junk,
)
event_ids = st.one_of(
    st.none(),
    st.text(printable, max_size=8),
    st.text(max_size=8),
    st.text(min_size=255, max_size=258),
    ints,
    fractional,
    junk,
)
event_times = st.one_of(
    st.floats(min_value=MIN_TS, max_value=NOW - 86400),
    st.integers(min_value=int(MIN_TS), max_value=int(NOW) - 86400),
    st.floats(min_value=0, max_value=MIN_TS - 0.001),
    iso_times(datetime(2001, 1, 1)),
    iso_times(datetime(1970, 1, 1)).filter(lambda s: s < "1999"),
    noise,
    st.none(),
    junk,
)
ips = st.one_of(st.none(), st.ip_addresses().map(str), noise, st.just(""), ints, junk)
paths = st.one_of(st.none(), text, st.text(min_size=2047, max_size=2050), ints, junk)
statuses = st.one_of(
    st.none(), st.integers(0, 1000), st.sampled_from([99, 100, 599, 600]), fractional, text, junk
)
methods = st.one_of(st.none(), st.text(max_size=8), st.text(min_size=15, max_size=17), ints, junk)
user_agents = st.one_of(st.none(), text, ints, junk)
# an account made after its event (cross-field: outside the schema) is kept away from:
# every generated creation time is before 2000, and so before every valid ``ts``
created = st.one_of(
    st.none(),
    st.floats(allow_nan=False, allow_infinity=False, max_value=MIN_TS - 1),
    st.integers(min_value=-(2**63), max_value=int(MIN_TS) - 1),
    iso_times(datetime(1990, 1, 1)).filter(lambda s: s < "1999"),
    noise,
    junk,
)
field_lists = st.one_of(
    st.none(),
    st.lists(st.text(max_size=4), max_size=3),
    st.lists(st.text(min_size=63, max_size=66), min_size=1, max_size=2),
    st.lists(st.just("email"), min_size=63, max_size=66),
    st.lists(st.one_of(text, ints), max_size=3),
    text,
    ints,
)
versions = st.one_of(st.just(1), st.just(1.0), st.integers(-1, 3), fractional, text, junk)

FIELD_VALUES = {
    "schema_version": versions,
    "event_id": event_ids,
    "ts": event_times,
    "account_id": identifiers,
    "session_id": identifiers,
    "ip": ips,
    "tenant": identifiers,
    "user_agent": user_agents,
    "referrer": user_agents,
    "fetch_dest": user_agents,
    "method": methods,
    "path": paths,
    "status": statuses,
    "target_profile_id": identifiers,
    "account_created_ts": created,
    "fields": field_lists,
    "unknown_field": st.one_of(text, ints, junk),
}
event_docs = st.fixed_dictionaries({}, optional=FIELD_VALUES)  # mostly invalid
valid_base = st.fixed_dictionaries(
    {
        "event_id": st.text(printable, min_size=1, max_size=8),
        "ts": st.floats(min_value=MIN_TS, max_value=NOW - 86400),
        "path": text,
        "status": st.integers(100, 599),
    },
    optional={
        "account_id": st.one_of(st.text(printable, min_size=1, max_size=8), ints),
        "session_id": st.text(printable, min_size=1, max_size=8),
        "ip": st.ip_addresses().map(str),
    },
).filter(lambda d: any(k in d for k in ("account_id", "session_id", "ip")))
one_field = st.sampled_from(sorted(FIELD_VALUES)).flatmap(
    lambda name: FIELD_VALUES[name].map(lambda value: (name, value))
)


@st.composite
def mutated_event_docs(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with one or two fields set to any value, and maybe one left out:
    every boundary of a field is tested on its own, not hidden behind another mistake."""
    doc = dict(draw(valid_base))
    name, value = draw(one_field)
    doc[name] = value
    how = draw(st.integers(0, 9))
    if how == 0:
        doc.update([draw(one_field)])
    elif how == 1:
        doc.pop(draw(st.sampled_from(sorted(doc))))
    return doc


def _accepted(doc: dict[str, Any]) -> bool:
    return not isinstance(validate_doc(doc, now=NOW), Invalid)


@settings(max_examples=2000, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_event_docs())
def test_valid_by_the_event_schema_iff_accepted_by_the_validator(doc: dict[str, Any]) -> None:
    _same_verdict(doc)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(event_docs)
def test_same_verdict_on_random_documents(doc: dict[str, Any]) -> None:
    _same_verdict(doc)


def _same_verdict(doc: dict[str, Any]) -> None:
    by_schema = EVENTS.is_valid(doc)
    verdict = validate_doc(doc, now=NOW)
    why = [e.message for e in EVENTS.iter_errors(doc)][:3]
    assert by_schema == (not isinstance(verdict, Invalid)), (doc, verdict, why)


BASE = {"event_id": "e1", "ts": MIN_TS + 1, "path": "/p", "status": 200, "account_id": "a"}
BOUNDARIES = [  # (changes to BASE, accepted?) on both sides of every limit
    ({"status": 100}, True),
    ({"status": 99}, False),
    ({"status": 599}, True),
    ({"status": 600}, False),
    ({"ts": MIN_TS}, True),
    ({"ts": MIN_TS - 0.001}, False),
    ({"ts": "2000-01-01T00:00:00Z"}, True),
    ({"ts": "1999-12-31T23:59:59Z"}, False),
    ({"event_id": "x" * 256}, True),
    ({"event_id": "x" * 257}, False),
    ({"event_id": ""}, False),
    ({"event_id": 0}, True),
    ({"path": "x" * 2048}, True),
    ({"path": "x" * 2049}, False),
    ({"method": "x" * 16}, True),
    ({"method": "x" * 17}, False),
    ({"account_id": "x" * 512}, True),
    ({"account_id": "x" * 513}, False),
    ({"account_id": ""}, False),  # empty means absent: no identity left
    ({"account_id": "", "session_id": "s"}, True),
    ({"account_id": None, "ip": "2001:db8::1"}, True),
    ({"account_id": None, "ip": "fe80::1%eth0"}, False),
    ({"account_id": None, "ip": "192.0.2.01"}, False),
    ({"tenant": "t" * 512}, True),
    ({"tenant": "t" * 513}, False),
    ({"fields": ["f" * 64] * 64}, True),
    ({"fields": ["f" * 64] * 65}, False),
    ({"fields": ["f" * 65]}, False),
    ({"account_created_ts": "2024-02-30"}, False),  # calendar: outside the schema
    ({"account_created_ts": 0}, True),
    ({"account_created_ts": -0.5}, False),
    ({"schema_version": 1.0}, True),
    ({"user_agent": "u" * 5000}, True),  # cut, not refused
]


@pytest.mark.parametrize(("change", "accepted"), BOUNDARIES)
def test_boundaries(change: dict[str, Any], accepted: bool) -> None:
    doc = {**BASE, **change}
    assert _accepted(doc) == accepted
    if change != {"account_created_ts": "2024-02-30"}:
        assert EVENTS.is_valid(doc) == accepted


def test_the_event_strategy_reaches_both_sides() -> None:
    """The equivalence above is not vacuous: both outcomes come up often."""
    seen = {True: 0, False: 0}

    @settings(max_examples=400, database=None)
    @given(st.one_of(event_docs, mutated_event_docs()))
    def count(doc: dict[str, Any]) -> None:
        seen[_accepted(doc)] += 1

    count()
    assert seen[True] > 40 and seen[False] > 40, seen


def test_schema_version_is_optional_and_other_versions_are_refused() -> None:
    base = {"event_id": "e1", "ts": MIN_TS + 1, "path": "/p", "status": 200, "ip": "192.0.2.1"}
    assert _accepted(base) and _accepted({**base, "schema_version": 1})
    for bad in (2, 0, "1", True, None):
        got = validate(orjson.dumps({**base, "schema_version": bad}), now=NOW)
        assert isinstance(got, Invalid) and got.reason == "unsupported_version", bad
        assert not EVENTS.is_valid({**base, "schema_version": bad})


def test_every_field_the_validator_knows_is_in_the_schema() -> None:
    known = {f.name for f in dataclasses.fields(RequestEvent)} - {"actor"}  # actor is derived
    published = set(EVENT_SCHEMA["properties"]) - {"schema_version"}
    assert known == published
    assert all("description" in spec for spec in EVENT_SCHEMA["properties"].values())


def test_the_schemas_are_valid_json_schema_2020_12() -> None:
    for schema in (EVENT_SCHEMA, DECISION_SCHEMA):
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)


# -- decisions ----------------------------------------------------------------------------
numbers = st.one_of(st.floats(allow_nan=False, allow_infinity=False), ints)
decision_docs = st.fixed_dictionaries(
    {},
    optional={
        "decision_id": st.one_of(text, ints, st.none()),
        "actor": st.one_of(text, ints, st.none()),
        "action": st.one_of(st.sampled_from(["allow", "challenge", "block", "deny"]), ints),
        "reasons": st.one_of(st.lists(text, max_size=3), st.lists(ints, max_size=2), text),
        "score": st.one_of(st.none(), numbers, text, st.booleans()),
        "model": st.one_of(text, ints, st.none()),
        "ttl_s": st.one_of(numbers, text, st.booleans()),
        "expires_at": st.one_of(numbers, st.none(), st.booleans()),
        "ts": st.one_of(numbers, text),
        "shadow": st.one_of(st.booleans(), st.none(), ints, text),
        "trigger_event_id": st.one_of(text, ints),
        "gateway_hint": st.one_of(text, ints),  # unknown fields are kept and allowed
    },
)
complete_decision_docs = st.builds(
    lambda doc, base: {**base, **doc},
    decision_docs,
    st.fixed_dictionaries(
        {
            "decision_id": st.text(min_size=1, max_size=8),
            "actor": st.text(min_size=1, max_size=8),
            "action": st.sampled_from(["allow", "challenge", "block"]),
            "reasons": st.lists(text, max_size=3),
            "ttl_s": st.floats(min_value=0, max_value=1e6),
            "expires_at": numbers,
            "ts": numbers,
            "shadow": st.booleans(),
        }
    ),
)


def _decodes(doc: dict[str, Any]) -> bool:
    try:
        Decision.from_dict(doc)
    except ValueError:
        return False
    return True


@settings(max_examples=1000, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(decision_docs, complete_decision_docs))
def test_valid_by_the_decision_schema_iff_decoded(doc: dict[str, Any]) -> None:
    by_schema = DECISIONS.is_valid(doc)
    assert by_schema == _decodes(doc), (doc, [e.message for e in DECISIONS.iter_errors(doc)])
    if by_schema:  # and what is decoded is encoded again as it came
        again = Decision.from_dict(doc).as_dict()
        assert DECISIONS.is_valid(again)
        as_float = {"ttl_s", "expires_at", "ts", "score"}  # numbers are decoded as floats
        assert {k: again[k] for k in doc} == {
            k: float(v) if k in as_float and v is not None else v for k, v in doc.items()
        }


def test_every_decision_field_is_in_the_schema() -> None:
    assert set(DECISION_SCHEMA["properties"]) == set(_DECISION_KEYS)


def test_the_decisions_the_pipeline_makes_are_valid() -> None:
    """A scraper challenged, blocked, then allowed again when the block expired."""
    from models import REGISTRY
    from stream.core.policy_loader import load_policy
    from stream.harness.offline import OfflineRun
    from tests.helpers import T0, event

    scraper = [
        event(i, T0 + i * 2.0, account="scraper", target_profile_id=i, fields=["email"])
        for i in range(1200)
    ]
    person = [event(i, T0 + i * 60.0, account="person", target_profile_id=i) for i in range(30)]
    later = [event(9999, T0 + 2 * 86400, account="scraper", target_profile_id=1)]
    events = sorted(scraper + person, key=lambda e: e["ts"]) + later
    assert all(EVENTS.is_valid(e) for e in events)
    run = OfflineRun(load_policy(), REGISTRY.get("hst").spec({}), now=T0 + 3 * 86400).run(events)
    assert {d.action for d in run.decisions} == {"challenge", "block", "allow"}
    for d in run.decisions:
        doc = orjson.loads(d.encode())
        assert DECISIONS.is_valid(doc), doc
