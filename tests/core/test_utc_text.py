"""Times as text (:mod:`stream.core.utc_text`): one formatter, total over every float."""

import math

import pytest

from stream.core.utc_text import CLOCK, MINUTES, RFC3339, SECONDS, utc_text


def test_a_time_is_written_in_utc_in_each_format() -> None:
    ts = 1_795_885_782.9  # 2026-11-28 17:09:42.9 UTC
    assert utc_text(ts) == utc_text(ts, SECONDS) == "2026-11-28 17:09:42 UTC"
    assert utc_text(ts, MINUTES) == "2026-11-28 17:09"
    assert utc_text(ts, CLOCK) == "17:09:42"
    assert utc_text(ts, RFC3339) == "2026-11-28T17:09:42Z"


@pytest.mark.parametrize("ts", [1e300, -1e300, math.inf, -math.inf, math.nan, 1e18])
def test_a_time_no_date_holds_gives_words_not_an_error(ts: float) -> None:
    assert utc_text(ts) == f"a time no date holds ({ts!r})"
    assert utc_text(ts, RFC3339, "9999-12-31T23:59:59Z") == "9999-12-31T23:59:59Z"
