"""docs/schemas/outcome.schema.json against the decoder the detector applies: a document is
valid by the schema exactly when it decodes (for actors the detector can name)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from stream.core.outcomes import KINDS, ActorOutcome

SCHEMA = orjson.loads(
    (Path(__file__).resolve().parents[2] / "docs" / "schemas" / "outcome.schema.json").read_bytes()
)
OUTCOMES = Draft202012Validator(SCHEMA)
ACTORS = ["account:42", "t1/session:s-9", "ip:192.0.2.7", "ip:2001:db8::1"]

text = st.text(max_size=6) | st.sampled_from(["", "ok", "a\nb", "\x00", "x" * 501])
number = (
    st.integers(-5, 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.sampled_from([1.7e9, 0, 1e11, "1"])
)
docs = st.fixed_dictionaries(
    {
        "outcome_id": st.sampled_from(["o-1", ""]) | text,
        "actor": st.sampled_from(ACTORS),
        "kind": st.sampled_from([*KINDS, "maybe"]),
        "ts": number,
    },
    optional={
        "v": st.sampled_from([1, 1.0, 2, True, "1"]),
        "reason": text | st.integers(-5, 5),
        "by": text,
        "decision_id": text,
        "extra": st.integers(-(2**63), 2**63 - 1),
    },
)


def _decodes(doc: dict[str, Any]) -> bool:
    try:
        ActorOutcome.decode(orjson.dumps(doc))
    except ValueError:
        return False
    return True


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(docs)
def test_valid_by_the_schema_iff_decoded(doc: dict[str, Any]) -> None:
    assert OUTCOMES.is_valid(doc) == _decodes(doc), (
        doc,
        [e.message for e in OUTCOMES.iter_errors(doc)],
    )


def test_every_field_of_an_outcome_is_in_the_schema_and_what_it_writes_is_valid() -> None:
    o = ActorOutcome("o-1", "account:42", "verdict_bot", "case 17", "analyst", 1.7e9, "d-1")
    doc = orjson.loads(o.encode())
    assert set(doc) == set(SCHEMA["properties"])
    assert OUTCOMES.is_valid(doc)
    Draft202012Validator.check_schema(SCHEMA)
