"""Packs (stream/kafka/packs.py) without a broker: items in order, split at the bounds,
and a reader that takes a pack, a record of one item, and nothing else."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream.core.internal_records import Activity
from stream.kafka.packs import PACK_MAX_BYTES, PACK_MAX_ITEMS, pack, unpack


def test_a_pack_holds_its_items_in_order() -> None:
    values = [Activity(f"account:{i}", "192.0.2.1", 1e9 + i, i).encode() for i in range(5)]
    (one,) = pack(values)
    assert [Activity.from_doc(d) for d in unpack(one, "activity")] == [
        Activity.decode(v) for v in values
    ]


def test_packs_split_at_their_item_and_byte_bounds() -> None:
    small = [orjson.dumps({"n": i}) for i in range(PACK_MAX_ITEMS * 2 + 1)]
    assert [len(unpack(p, "x")) for p in pack(small)] == [PACK_MAX_ITEMS, PACK_MAX_ITEMS, 1]
    big = [orjson.dumps({"pad": "x" * (PACK_MAX_BYTES // 3)}) for _ in range(7)]
    packs = pack(big)
    assert all(len(p) <= PACK_MAX_BYTES + 2 for p in packs)
    assert sum(len(unpack(p, "x")) for p in packs) == 7 and len(packs) == 4
    huge = orjson.dumps({"pad": "x" * PACK_MAX_BYTES})  # alone in its pack, never dropped
    assert [len(unpack(p, "x")) for p in pack([huge, huge])] == [1, 1]
    assert pack([]) == []


def test_a_record_of_one_item_as_earlier_versions_wrote_it_reads_as_one() -> None:
    raw = Activity("account:a", "192.0.2.1", 1e9, 3).encode()
    assert unpack(raw, "activity") == [orjson.loads(raw)]


@pytest.mark.parametrize("raw", [None, b"", b"\xff", b"[1,", b"{"])
def test_a_record_that_is_not_json_is_a_value_error_naming_what_it_should_be(
    raw: bytes | None,
) -> None:
    with pytest.raises(ValueError, match="activity"):
        unpack(raw, "activity")


@given(st.lists(st.binary(max_size=40).map(lambda b: orjson.dumps(b.hex())), max_size=30))
def test_any_json_values_come_back_as_they_went_in(values: list[bytes]) -> None:
    assert [d for p in pack(values) for d in unpack(p, "x")] == [orjson.loads(v) for v in values]


def test_a_pack_of_more_items_than_any_writer_makes_is_refused_whole() -> None:
    with pytest.raises(ValueError, match="more than"):
        unpack(b"[" + b",".join([b"0"] * (PACK_MAX_ITEMS + 1)) + b"]", "activity")


def test_the_agents_read_every_good_item_and_count_each_bad_one() -> None:
    from collections import Counter

    from stream.runtime.faust_agent import read_items
    from tests.kafka.fakes import Rec

    good = [Activity(f"account:{i}", "192.0.2.1", 1e9 + i, i).encode() for i in range(3)]
    bad = orjson.dumps({"a": "account:x", "i": "192.0.2.1", "t": 1e9, "v": -5})
    records = [
        Rec("t", 0, 0, None, b"[" + b",".join([good[0], bad, b"[1]", good[1]]) + b"]"),
        Rec("t", 0, 1, None, b"not json"),
        Rec("t", 0, 2, b"192.0.2.0/24", good[2]),  # one item, as before packs
        Rec("t", 0, 3, None, b"[" + b",".join([good[0]] * (PACK_MAX_ITEMS + 1)) + b"]"),
    ]
    stats: Counter[str] = Counter()
    items = read_items(records, Activity.from_doc, "activity", stats)
    assert items == [Activity.decode(g) for g in good]
    assert stats == {"bad_activity": 4}  # two items, a record that is not JSON, a pack too big
