from stream.core.decision_store import DecisionStore
from stream.core.records import Decision
from tests.helpers import T0


def dec(
    actor: str,
    action: str,
    ts: float,
    ttl: float = 3600,
    shadow: bool = False,
    did: str | None = None,
) -> Decision:
    return Decision(
        did or f"{actor}-{action}-{ts}",
        actor,
        action,
        [f"x {ts} > 1"],
        0.0,
        "hst@1",
        ttl,
        ts + ttl,
        ts,
        shadow,
    )


def test_current_decision_and_expiry() -> None:
    s = DecisionStore()
    s.add(dec("a", "challenge", T0))
    s.add(dec("a", "block", T0 + 10, ttl=100))
    cur = s.current("a", T0 + 50)
    assert cur is not None and cur["action"] == "block" and cur["in_force"]
    assert cur["expires_at"] == T0 + 110
    later = s.current("a", T0 + 500)
    assert later is not None and later["action"] == "allow" and not later["in_force"]
    assert s.current("nobody", T0) is None


def test_shadow_decisions_do_not_count_as_current() -> None:
    s = DecisionStore()
    s.add(dec("a", "challenge", T0, shadow=True))
    assert s.current("a", T0) is None
    assert s.current("a", T0, include_shadow=True) is not None


def test_redelivery_is_recognised() -> None:
    s = DecisionStore()
    s.add(dec("a", "block", T0, did="same"))
    s.add(dec("a", "block", T0, did="same"))
    assert len(s.history("a")) == 1


def test_query_filters_and_pages() -> None:
    s = DecisionStore()
    for i in range(25):
        s.add(dec(f"a{i}", "block" if i % 2 else "challenge", T0 + i))
    page = s.query(action="block", limit=5)
    assert [d["actor"] for d in page.items] == ["a23", "a21", "a19", "a17", "a15"]
    rest = s.query(action="block", limit=5, cursor=page.next_cursor)
    assert rest.items[0]["actor"] == "a13"
    assert len(s.query(action="block", since=T0 + 20).items) == 2
    last = s.query(action="block", limit=12)
    assert len(last.items) == 12 and last.next_cursor is None
    assert s.counts() == {"allow": 0, "challenge": 13, "block": 12}


def test_bounded_number_of_actors() -> None:
    s = DecisionStore(max_actors=3, history=2)
    for i in range(10):
        s.add(dec(f"a{i}", "block", T0 + i))
    assert len(s) == 3 and s.current("a0", T0) is None and s.current("a9", T0) is not None
