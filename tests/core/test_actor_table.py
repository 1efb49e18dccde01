import orjson
import pytest

from models import REGISTRY
from stream.core.actor_codec import encode
from stream.core.actor_state import ActorState
from stream.core.actor_table import ActorTable, freeze, thaw
from stream.core.batch import Limits
from stream.core.partition_detector import PartitionDetector
from stream.core.policy_loader import load_policy
from stream.core.pseudonym import Pseudonymizer
from stream.core.validation import RequestEvent, validate
from stream.harness.personas import DEFAULT_MIX, Simulation
from tests.helpers import T0, Rec, event

END = 1_780_000_000.0


def state(ts: float, views: int = 3) -> ActorState:
    s = ActorState()
    for i in range(views):
        doc = event(i, ts + i, target_profile_id=str(100 + i))
        ev = validate(orjson.dumps(doc), now=ts + 3600)
        assert isinstance(ev, RequestEvent)
        s.apply(ev, i)
    return s


def test_freeze_thaw_round_trip_is_exact_and_small() -> None:
    s = state(T0)
    blob = freeze(s)
    assert encode(thaw(blob)) == encode(s)
    assert len(blob) < len(encode(s)) / 2  # mostly-zero rings compress well


def test_least_recently_used_actors_are_compressed_first() -> None:
    table = ActorTable(hot_max=2)
    for i, a in enumerate("abc"):
        table.put(a, state(T0 + i))
    assert table.get("a") is not None  # a is now the most recently used
    assert table.trim() == 1
    assert table.hot == 2 and len(table) == 3
    assert "b" in table and list(table) == ["c", "a", "b"]  # hot ones first, then b
    b = table.get("b")  # decoded again, and hot
    assert b is not None and b.last_ts == T0 + 1 + 2
    assert table.trim() == 1 and list(table) == ["a", "b", "c"]


def test_peek_does_not_change_tiers_and_returns_copies_of_cold_actors() -> None:
    table = ActorTable(hot_max=1)
    table.put("a", state(T0))
    table.put("b", state(T0 + 10))
    table.trim()
    a = table.peek("a")
    assert a is not None and a.counters.events == 3 and table.hot == 1
    a.counters.events = 99  # a copy: the table keeps what it had
    assert (cold := table.peek("a")) is not None and cold.counters.events == 3
    assert table.peek("nobody") is None and table.get("nobody") is None


def test_last_seen_reads_both_tiers_and_pop_forgets() -> None:
    table = ActorTable(hot_max=1)
    table.put("old", state(T0))
    table.put("new", state(T0 + 500))
    table.trim()
    assert dict(table.last_seen()) == {"old": T0 + 2, "new": T0 + 502}
    table.pop("old")
    table.pop("new")
    assert len(table) == 0 and dict(table.items()) == {}


def test_hot_max_must_be_positive() -> None:
    with pytest.raises(ValueError):
        ActorTable(hot_max=0)


def test_decisions_and_state_do_not_depend_on_the_hot_tier_size() -> None:
    sim = Simulation(300, 3, END, DEFAULT_MIX, seed=2)
    records = []
    for i, doc in enumerate(sim.events()):
        value = orjson.dumps(doc)
        ev = validate(value, now=END)
        assert isinstance(ev, RequestEvent)
        records.append(Rec(i, ev.actor.encode(), value))

    policy = load_policy()  # one object: the allowlist cache is keyed by its identity
    pseudo = Pseudonymizer(bytes(range(32)))

    def run(hot_max: int) -> tuple[PartitionDetector, list[tuple[str, str, str]]]:
        spec = REGISTRY.get("hst").spec()
        det = PartitionDetector(
            "requests",
            0,
            policy,
            REGISTRY.build(spec),
            spec.label(),
            Limits(hot_actors=hot_max),
            clock=lambda: END,
        )
        det.pseudo = pseudo  # one key for both runs: incident keys name the actor by pseudonym
        decisions = []
        for start in range(0, len(records), 500):
            out = det.process(records[start : start + 500])
            decisions += [(d.decision_id, d.action, " ".join(d.reasons)) for d in out.decisions]
        return det, decisions

    small, small_decisions = run(1)
    big, big_decisions = run(100_000)
    assert small.actors.hot == 1 and big.actors.hot == len(big.actors) > 200
    assert {d[1] for d in big_decisions} == {"challenge", "block"}
    assert small_decisions == big_decisions
    assert {a: encode(s) for a, s in small.actors.items()} == {
        a: encode(s) for a, s in big.actors.items()
    }
