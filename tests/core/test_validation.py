import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream.core.actor_ref import normalise_ip
from stream.core.records import RequestEvent
from stream.core.validation import Invalid, actor_key, actor_key_of, parse_ts, validate
from tests.helpers import T0, event

NOW = T0 + 3600


def check(doc: object, **kw: object) -> RequestEvent | Invalid:
    return validate(orjson.dumps(doc), now=NOW, **kw)  # type: ignore[arg-type]


def test_valid_event_is_decoded_and_unknown_fields_ignored() -> None:
    ev = check(event(1, target_profile_id=42, fields=["name", "email"], extra={"x": 1}))
    assert isinstance(ev, RequestEvent)
    assert ev.actor == "account:alice"
    assert ev.target_profile_id == "42"  # integer ids are normalised to strings
    assert ev.fields == ["name", "email"]
    assert ev.ts == T0


@pytest.mark.parametrize(
    ("account", "session", "ip", "tenant", "expected"),
    [
        ("a1", "s1", "10.0.0.1", None, "account:a1"),
        (None, "s1", "10.0.0.1", None, "session:s1"),
        (None, None, "10.0.0.1", None, "ip:10.0.0.1"),
        ("a1", None, None, "acme", "acme/account:a1"),
        (None, None, None, None, None),
    ],
)
def test_actor_is_account_else_session_else_ip(account, session, ip, tenant, expected) -> None:
    assert actor_key(account, session, ip, tenant) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "invalid_json"),
        (b"\xff\xfe{}", "invalid_json"),
        (b"[1, 2]", "not_object"),
        (b'"text"', "not_object"),
        (None, "invalid_json"),
    ],
)
def test_bytes_that_are_not_an_event_object(value: bytes | None, reason: str) -> None:
    res = validate(value, now=NOW)
    assert isinstance(res, Invalid) and res.reason == reason


def test_too_large_is_refused_before_parsing() -> None:
    big = orjson.dumps(event(user_agent="x" * 70_000))
    res = validate(big, now=NOW)
    assert isinstance(res, Invalid) and res.reason == "too_large"


@pytest.mark.parametrize(
    ("override", "reason"),
    [
        ({"account_id": None, "ip": None}, "missing_identity"),
        ({"ts": "yesterday"}, "invalid_ts"),
        ({"ts": True}, "invalid_ts"),
        ({"ts": 12.0}, "ts_out_of_range"),
        ({"ts": NOW + 10 * 86400}, "ts_in_future"),
        ({"ts": NOW + 301}, "ts_in_future"),
        ({"status": "200"}, "invalid_field"),
        ({"status": 999}, "invalid_field"),
        ({"ip": "not-an-ip"}, "invalid_field"),
        ({"account_id": {"id": 1}}, "invalid_field"),
        ({"fields": "name"}, "invalid_field"),
        ({"fields": [1, 2]}, "invalid_field"),
        ({"account_created_ts": "soon"}, "invalid_field"),
        ({"account_created_ts": T0 * 1000}, "invalid_field"),  # milliseconds: after the event
        ({"account_created_ts": -1.0}, "invalid_field"),
        ({"user_agent": 5}, "invalid_field"),
        ({"referrer": 5}, "invalid_field"),
        ({"fetch_dest": ["document"]}, "invalid_field"),
        ({"event_id": None}, "missing_field"),
        ({"path": None}, "missing_field"),
    ],
)
def test_contract_violations_have_reasons(override: dict[str, object], reason: str) -> None:
    res = check(event(**override))  # type: ignore[arg-type]
    assert isinstance(res, Invalid), res
    assert res.reason == reason
    assert res.detail


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        (None, None),  # the producer does not send the header
        ("-", ""),  # the request had none, as access logs write it
        ("", ""),
        ("Document", "document"),
        (" Empty ", "empty"),
        ("x" * 100, "x" * 32),  # no destination a browser sends: cut, and unknown
        ("İ" * 40, ("İ" * 40).lower()[:32]),  # cut after lower case (which lengthens it)
    ],
)
def test_fetch_dest_is_read_in_lower_case_and_none_is_told_from_not_sent(
    sent: str | None, read: str | None
) -> None:
    ev = check(event(fetch_dest=sent))
    assert isinstance(ev, RequestEvent)
    assert ev.fetch_dest == read
    absent = check(event())
    assert isinstance(absent, RequestEvent) and absent.fetch_dest is None


def test_an_account_made_before_1970_or_after_its_request_is_refused_and_said_why() -> None:
    ms = check(event(account_created_ts=T0 * 1000))
    assert isinstance(ms, Invalid) and "after the event (milliseconds?)" in ms.detail
    assert not isinstance(check(event(account_created_ts=0.0)), Invalid)  # 1970: kept
    assert not isinstance(check(event(account_created_ts=T0 + 60)), Invalid)  # clock skew


def test_ipv6_addresses_are_named_one_way_and_ipv4_mapped_ones_as_their_ipv4() -> None:
    mapped = check(event(account_id=None, ip="::ffff:198.51.100.9"))
    assert isinstance(mapped, RequestEvent)
    assert (mapped.ip, mapped.actor) == ("198.51.100.9", "ip:198.51.100.9")
    upper = check(event(ip="2001:DB8:0:0::1"))
    assert isinstance(upper, RequestEvent) and upper.ip == "2001:db8::1"
    assert normalise_ip("::ffff:198.51.100.9") == "198.51.100.9"
    # producers key by the same name, so no event takes a re-keying hop
    assert actor_key_of({"ip": "::ffff:198.51.100.9"}) == "ip:198.51.100.9"
    assert actor_key_of({"ip": "2001:DB8:0::1"}) == "ip:2001:db8::1"
    assert actor_key_of({"ip": "not::an::ip"}) == "ip:not::an::ip"  # the worker refuses it


def test_iso_timestamps_naive_means_utc() -> None:
    assert parse_ts("2026-05-28T20:26:40Z") == T0
    assert parse_ts("2026-05-28T20:26:40") == T0
    assert parse_ts("2026-05-28T22:26:40+02:00") == T0
    assert parse_ts(float("nan")) is None


@given(st.binary(max_size=300))
def test_no_bytes_crash_validation(data: bytes) -> None:
    res = validate(data, now=NOW)
    assert isinstance(res, RequestEvent | Invalid)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "event_id",
                "ts",
                "account_id",
                "session_id",
                "ip",
                "user_agent",
                "method",
                "path",
                "status",
                "target_profile_id",
                "account_created_ts",
                "fields",
                "tenant",
                "referrer",
                "fetch_dest",
                "other",
            ]
        ),
        json_values,
    )
)
def test_no_json_object_crashes_validation(doc: dict[str, object]) -> None:
    res = validate(orjson.dumps(doc), now=NOW)
    assert isinstance(res, RequestEvent | Invalid)
