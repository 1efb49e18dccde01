"""Time and actor train/test splits: what is replayed in which order, what is test."""

import pytest

from stream.harness.splits import actor_split, in_test, split, time_split

DAY = 86400.0


def ev(account: str, ts: float, created: float | None = None) -> dict[str, object]:
    return {
        "event_id": f"{account}-{ts}",
        "ts": ts,
        "account_id": account,
        "account_created_ts": created,
    }


def test_time_split_tests_the_actors_first_seen_late() -> None:
    events = [
        ev("early", 0.0),
        ev("early", 950.0),
        ev("mid", 500.0),
        ev("late", 701.0),
        ev("edge", 700.0),
        ev("end", 1000.0),
    ]
    sp = time_split(events, 0.3)
    assert sp.cut_ts == pytest.approx(700.0)
    assert sp.test == {"account:late", "account:edge", "account:end"}
    assert [e["ts"] for e in sp.events] == sorted(e["ts"] for e in events)  # all, in time
    labels = {"account:early": "human", "account:late": "bulk_scraper", "account:x": "human"}
    assert sp.labels(labels) == {"account:late": "bulk_scraper"}
    d = sp.as_dict(labels)
    assert d["labelled_test_actors"] == 1 and d["labelled_train_actors"] == 2


def test_actor_split_replays_train_then_test_later_by_whole_days() -> None:
    events = [ev(f"a{i}", 1000.0 + i, created=10.0) for i in range(200)]
    sp = actor_split(events, 0.3)
    test = {f"account:a{i}" for i in range(200) if in_test(f"account:a{i}", 0.3)}
    assert sp.test == test and 30 < len(test) < 90  # about 30 % of 200
    n_train = 200 - len(test)
    train_part, test_part = sp.events[:n_train], sp.events[n_train:]
    assert all(f"account:{e['account_id']}" not in test for e in train_part)
    assert all(f"account:{e['account_id']}" in test for e in test_part)
    assert sp.shift_s == DAY  # the whole run spans 199 s: one day later
    ts = [e["ts"] for e in sp.events]
    assert ts == sorted(ts)  # event time never goes back
    first = next(e for e in test_part)
    original = events[int(str(first["account_id"])[1:])]
    assert first["ts"] == original["ts"] + DAY  # type: ignore[operator]
    assert first["account_created_ts"] == 10.0 + DAY  # account age unchanged
    assert original["ts"] == 1000.0 + int(str(first["account_id"])[1:])  # input untouched


def test_the_actor_hash_is_stable_and_the_share_is_respected() -> None:
    assert in_test("account:a1", 0.3) == in_test("account:a1", 0.3)
    share = sum(in_test(f"session:{i}", 0.25) for i in range(4000)) / 4000
    assert 0.22 < share < 0.28


def test_no_split_and_bad_arguments() -> None:
    sp = split([ev("b", 2.0), ev("a", 1.0)], "none")
    assert sp.test is None and [e["ts"] for e in sp.events] == [1.0, 2.0]
    assert sp.labels({"x": "human"}) == {"x": "human"}
    with pytest.raises(ValueError, match="split is one of"):
        split([], "random")
    with pytest.raises(ValueError, match="between 0 and 1"):
        split([], "time", 1.0)
