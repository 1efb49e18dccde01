from collections import Counter

import pytest

from stream.core.validation import RequestEvent, validate
from stream.harness.evaluation import is_allowlisted, is_bot, is_person
from stream.harness.personas import DEFAULT_MIX, PERSONAS, Simulation, parse_mix

END = 1_780_000_000.0


def test_same_seed_same_traffic_and_labels() -> None:
    a = Simulation(200, 3, END, DEFAULT_MIX, seed=4)
    b = Simulation(200, 3, END, DEFAULT_MIX, seed=4)
    assert a.labels() == b.labels()
    assert a.events() == b.events()
    assert Simulation(200, 3, END, DEFAULT_MIX, seed=5).events() != a.events()


def test_every_persona_appears_with_its_label_and_valid_events() -> None:
    sim = Simulation(600, 3, END, DEFAULT_MIX, seed=1)
    labels = sim.labels()
    assert set(labels.values()) == set(PERSONAS)
    events = sim.events()
    assert [e["ts"] for e in events] == sorted(e["ts"] for e in events)
    assert all(END - 3 * 3600 <= e["ts"] < END for e in events)
    import orjson

    for e in events[:: max(1, len(events) // 500)]:
        assert isinstance(validate(orjson.dumps(e), now=END), RequestEvent)


def test_groups_are_many_accounts() -> None:
    sim = Simulation(600, 2, END, DEFAULT_MIX, seed=1)
    kinds = Counter(sim.labels().values())
    assert kinds["distributed"] % 30 == 0 and kinds["distributed"] >= 30
    assert kinds["account_farm"] % 12 == 0 and kinds["account_farm"] >= 12
    farm_ips = {
        e["ip"] for actor, label, evs in sim.actors if label == "account_farm" for e in evs[:1]
    }
    assert len(farm_ips) == kinds["account_farm"] // 12  # one IP per farm


def test_label_classes() -> None:
    assert is_person("human") and is_person("human_power_user")
    assert is_allowlisted("allowlisted_crawler") and not is_bot("allowlisted_crawler")
    assert all(is_bot(k) for k in PERSONAS if not k.startswith(("human", "allowlisted")))


def test_mix_parsing() -> None:
    assert parse_mix("human=3,bulk_scraper=1") == {"human": 0.75, "bulk_scraper": 0.25}
    for bad in ("human", "robot=1", "human=x", "human=-1", "human=0"):
        with pytest.raises(ValueError):
            parse_mix(bad)
