"""Zero-run compression of cold actor entries (stream.core.zero_runs)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stream.core.actor_codec import encode
from stream.core.actor_state import ActorState
from stream.core.zero_runs import expand, squeeze
from tests.core.test_actor_state import ev
from tests.helpers import T0

# bytes with long zero runs, as the rings of a quiet actor have
RUNS = st.lists(
    st.one_of(st.binary(max_size=12), st.integers(1, 700).map(bytes)), max_size=30
).map(b"".join)


@given(st.binary(max_size=2000) | RUNS)
def test_expand_undoes_squeeze(raw: bytes) -> None:
    assert expand(squeeze(raw)) == raw


@pytest.mark.parametrize(
    ("raw", "squeezed"),
    [
        (b"", b""),
        (b"ab", b"ab"),
        (b"\x00", b"\x00\x00"),
        (b"a" + bytes(256) + b"b", b"a\x00\xffb"),
        (bytes(257), b"\x00\xff\x00\x00"),  # a run longer than 256 is two
        (b"\x01\x00\x00\x02", b"\x01\x00\x01\x02"),
    ],
)
def test_squeeze_writes_each_zero_run_as_zero_and_its_length(raw: bytes, squeezed: bytes) -> None:
    assert squeeze(raw) == squeezed


@pytest.mark.parametrize("data", [b"\x00", b"abc\x00", b"\x00\x05\x00"])
def test_expand_refuses_a_zero_without_its_length(data: bytes) -> None:
    with pytest.raises(ValueError, match="without its length"):
        expand(data)


def test_an_actor_with_a_few_requests_squeezes_to_a_fraction() -> None:
    state = ActorState()
    for i in range(3):
        state.apply(ev(i, T0 + 60 * i, target=f"p{i}"), i)
    raw = encode(state)
    assert len(squeeze(raw)) < len(raw) / 3
