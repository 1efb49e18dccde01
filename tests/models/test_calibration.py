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
    assert (
        0.0
        <= s.score_one({"v": -5.0})
        <= s.score_one({"v": 10.0})
        <= s.score_one({"v": 99.0})
        <= 1.0
    )
