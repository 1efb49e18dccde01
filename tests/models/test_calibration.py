import pytest

from models.calibration import CalibratedScorer, QuantileCalibrator


def test_calibrated_score_is_share_of_reference_below() -> None:
    cal = QuantileCalibrator(window=100, min_samples=10)
    for v in range(100):
        cal.update(float(v))
    assert cal.transform(-1) == 0.0
    assert cal.transform(1000) == 1.0
    assert cal.transform(49.5) == pytest.approx(0.5)
    assert cal.transform(50) == pytest.approx(0.505)  # ties count half


def test_calibrator_forgets_beyond_window() -> None:
    cal = QuantileCalibrator(window=10, min_samples=1)
    for v in range(100):
        cal.update(float(v))
    assert len(cal) == 10
    assert cal.transform(89.5) == pytest.approx(0.0)


def test_no_score_before_min_samples() -> None:
    cal = QuantileCalibrator(window=100, min_samples=50)
    for v in range(49):
        cal.update(float(v))
    assert cal.transform(1e9) == 0.0


def test_state_round_trip() -> None:
    cal = QuantileCalibrator(window=50, min_samples=5)
    for v in range(70):
        cal.update(v / 7)
    again = QuantileCalibrator.from_state(cal.state())
    assert [again.transform(v / 3) for v in range(40)] == [cal.transform(v / 3) for v in range(40)]


class Linear:
    def __init__(self) -> None:
        self.learned = 0

    def score_one(self, x: dict[str, float]) -> float:
        return x["v"]

    def learn_one(self, x: dict[str, float]) -> None:
        self.learned += 1


def test_calibrated_scorer_clamps_and_learns_through() -> None:
    inner = Linear()
    s = CalibratedScorer(inner, QuantileCalibrator(window=20, min_samples=1))
    for v in range(20):
        s.learn_one({"v": float(v)})
    assert inner.learned == 20
    low, mid, high = (s.score_one({"v": v}) for v in (-5.0, 10.0, 99.0))
    assert low is not None and mid is not None and high is not None
    assert 0.0 <= low <= mid <= high <= 1.0


def test_no_score_until_warm() -> None:
    """A detector that needs a window before it knows anything says nothing until then,
    and the calibration is built only from scores taken once it is warm."""
    inner = Linear()
    s = CalibratedScorer(inner, QuantileCalibrator(window=50, min_samples=10), warm_after=30)
    for v in range(39):
        s.learn_one({"v": 0.0 if v < 30 else float(v)})
        assert s.score_one({"v": 1.0}) is None
    s.learn_one({"v": 39.0})
    assert s.warm and len(s.calibrator) == 10  # the 30 warm-up zeros were not kept
    assert s.score_one({"v": 0.0}) == 0.0


def test_a_drifting_detector_is_compared_with_itself() -> None:
    class Drifting(Linear):
        def score_one(self, x: dict[str, float]) -> float:
            return x["v"] + self.learned  # every learn shifts every score

    cal = QuantileCalibrator(window=50, min_samples=10)
    s = CalibratedScorer(Drifting(), cal, rescore_every=10)
    for v in range(100):
        s.learn_one({"v": float(v % 50)})
    # same-distribution input lands mid-range, not above everything the past scored
    mid = s.score_one({"v": 25.0})
    assert mid is not None and 0.3 <= mid <= 0.7
