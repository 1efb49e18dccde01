import pytest

from stream.core.actions import Action
from stream.core.actor_codec import decode, encode
from stream.core.actor_state import ActorState
from stream.core.automation import is_automation_ua
from stream.core.records import RequestEvent
from stream.core.windows import stable_hash as profile_hash
from tests.helpers import T0


def ev(
    i: int,
    ts: float,
    target: str | None = None,
    status: int = 200,
    ua: str = "Mozilla/5.0",
    created: float | None = None,
) -> RequestEvent:
    return RequestEvent(
        f"e{i}",
        ts,
        "account:a",
        "a",
        None,
        "10.0.0.1",
        ua,
        "GET",
        "/profiles/{id}" if target else "/feed",
        status,
        target,
        created,
    )


def test_counts_per_minute_hour_day_and_errors() -> None:
    s = ActorState()
    base = (T0 // 60) * 60  # minute-aligned
    for i in range(90):  # one request every 30 s for 45 minutes
        s.apply(ev(i, base + i * 30, target=str(i % 20), status=404 if i % 10 == 0 else 200), i)
    assert s.counters.requests_per_hour == 90
    assert s.counters.requests_per_day == 90
    # sliding: 2 in this minute + half of the last one's 2
    assert s.counters.requests_per_minute == 3
    assert s.counters.profiles_per_hour == 20
    assert s.counters.errors_per_hour == 9
    assert s.counters.views_per_hour == 90


def test_requests_per_minute_slides_across_minute_boundaries() -> None:
    s = ActorState()
    base = (T0 // 60) * 60
    for i in range(100):  # 100 requests in the last 10 s of a minute
        s.apply(ev(i, base + 50 + i * 0.1), i)
    s.apply(ev(100, base + 61), 100)  # one second into the next minute
    assert s.counters.requests_per_minute == 1 + round(100 * 59 / 60)
    assert s.counters.hour.current() == 1  # a tumbling count would have reset


def test_ips_per_hour_and_group_flag() -> None:
    s = ActorState()
    for i in range(20):
        e = ev(i, T0 + i * 60)
        e.ip = f"10.0.{i % 15}.1"
        s.apply(e, i)
    assert s.counters.ips_per_hour == 15
    s.group_reason, s.group_expires = "accounts_per_ip 9 > 8 (10.0.0.1)", T0 + 100
    assert s.group_flag(T0 + 99) and not s.group_flag(T0 + 100)
    t = decode(encode(s))
    assert t.counters.ips_per_hour == 15
    assert (t.group_reason, t.group_expires) == (s.group_reason, T0 + 100)


def test_out_of_order_event_within_window_is_counted() -> None:
    s = ActorState()
    s.apply(ev(0, T0 + 1800, "1"), 0)
    s.apply(ev(1, T0 + 10, "2"), 1)  # 30 minutes late
    assert s.counters.requests_per_hour == 2 and s.counters.profiles_per_hour == 2
    assert s.last_ts == T0 + 1800 and s.counters.first_ts == T0 + 10


def test_too_late_is_a_day_behind_the_newest_event() -> None:
    s = ActorState()
    assert not s.too_late(T0 - 10 * 86400)  # nothing seen yet
    s.apply(ev(0, T0), 0)
    assert not s.too_late(T0 - 86000)
    assert s.too_late(T0 - 86400)


def test_account_age_and_regularity_features() -> None:
    s = ActorState()
    for i in range(50):
        s.apply(ev(i, T0 + i * 2.0, created=T0 - 2 * 86400), i)
    assert s.counters.account_age_days(T0) == pytest.approx(2.0)
    assert s.counters.gap_cv() < 0.01  # a metronome
    assert s.counters.gap_mean == pytest.approx(2.0, rel=0.01)


def test_enumeration_share_detects_sequential_ids() -> None:
    s = ActorState()
    for i in range(60):
        s.apply(ev(i, T0 + i, target=str(1000 + i)), i)
    assert s.counters.seq_share > 0.95
    t = ActorState()
    for i in range(60):
        t.apply(ev(i, T0 + i, target=str(1000 + 37 * i)), i)
    assert t.counters.seq_share < 0.05


def test_automation_user_agents() -> None:
    assert is_automation_ua("python-requests/2.31")
    assert is_automation_ua("Mozilla/5.0 HeadlessChrome/120")
    assert not is_automation_ua("Mozilla/5.0 (Macintosh) Safari/605.1")


def test_profile_hash_is_stable_and_spreads_sequential_ids() -> None:
    assert profile_hash("12345") == profile_hash("12345")
    positions = {profile_hash(str(1000 + i)) % 256 for i in range(256)}
    assert len(positions) > 140  # ~162 expected for a uniform hash


def test_encode_decode_round_trip_exact_and_sketch() -> None:
    for n in (0, 5, 500):
        s = ActorState()
        s.apply(ev(0, T0, ua="curl/8"), 0)
        for i in range(n):
            s.apply(ev(i + 1, T0 + i, target=str(i), created=T0 - 86400), i + 1)
        e = s.enforcement
        e.action, e.expires, e.views_at_action, s.score = Action.CHALLENGE, T0 + 3600, 7, 0.5
        blob = encode(s)
        t = decode(blob)
        assert encode(t) == blob
        tc, sc = t.counters, s.counters
        assert (tc.requests_per_hour, tc.profiles_per_hour, tc.profiles_per_day) == (
            sc.requests_per_hour,
            sc.profiles_per_hour,
            sc.profiles_per_day,
        )
        te = t.enforcement
        assert (te.action, te.expires, te.views_at_action, tc.automation) == (
            1,
            T0 + 3600,
            7,
            n == 0,
        )  # the newest user agent decides (curl only when n == 0)


def test_the_user_agent_flags_survive_encoding() -> None:
    for ua, flags in (
        ("curl/8", (True, False)),
        ("Mozilla/5.0 (compatible; PeopleIndex/1.0)", (False, True)),
        ("python-requests/2.31 (+https://example.org/crawler)", (True, True)),
        ("Mozilla/5.0 (Macintosh) Safari/605.1", (False, False)),
    ):  # blobs written before the crawler flag hold 0 or 1 in that byte, as 1st and last
        s = ActorState()
        s.apply(ev(0, T0, ua=ua), 0)
        t = decode(encode(s)).counters
        assert (t.automation, t.crawler_ua) == flags, ua


def test_state_size_budget() -> None:
    human = ActorState()
    for i in range(30):
        human.apply(ev(i, T0 + i * 60, target=str(i % 12)), i)
    assert len(encode(human)) < 1300  # windows ~0.7 KB + behaviour ~0.3 KB
    heavy = ActorState()
    for i in range(5000):
        heavy.apply(ev(i, T0 + i, target=str(i)), i)
    assert len(encode(heavy)) < 1800


@pytest.mark.parametrize("blob", [b"", b"\x01\x02", b"\x09" + b"\x00" * 200])
def test_decode_refuses_malformed(blob: bytes) -> None:
    with pytest.raises(ValueError):
        decode(blob)


def test_manual_enforcement_round_trips_and_version_3_still_decodes() -> None:
    from stream.core.actor_codec import _HEAD, _HEAD3
    from stream.core.enforcement import Origin

    s = ActorState()
    s.apply(ev(0, T0, target="1"), 0)
    e = s.enforcement
    e.action, e.expires, e.origin, e.allow_until = Action.BLOCK, T0 + 86400, Origin.MANUAL, 0.0
    e.incident = "subnet:203.0.113.0/24"
    t = decode(encode(s))
    assert (t.enforcement.origin, t.enforcement.incident) == (Origin.MANUAL, e.incident)
    e.incident, e.allow_until = "", T0 + 60
    assert decode(encode(s)).enforcement.allow_until == T0 + 60
    # a blob written by version 3: the same head without origin and allow_until, no tail
    v4 = encode(s)
    head = list(_HEAD.unpack_from(v4, 0))
    tail = 17 + len(s.behaviour.dump())  # nav_ts, next_score_ts, verdict, behaviour: v4 only
    v3 = _HEAD3.pack(3, *head[1:-2]) + v4[_HEAD.size : -tail]
    old = decode(v3)
    assert old.enforcement.action == Action.BLOCK and old.enforcement.expires == T0 + 86400
    assert (old.enforcement.origin, old.enforcement.allow_until, old.enforcement.incident) == (
        Origin.RULES,
        0.0,
        "",
    )
    assert old.counters.requests_per_hour == s.counters.requests_per_hour
