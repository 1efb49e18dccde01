"""The score's paths below the evidence gates on a run of pages: at a metronome's rhythm
(``regular_pages``) or in a hurry (``rapid_pages``, not in the packaged policy)."""

from stream.core.actions import Action
from stream.core.policy_loader import load_policy, parse_policy
from tests.helpers import profile_walk

POLICY = load_policy()


def test_a_regular_run_of_pages_lets_a_score_act_below_the_gates() -> None:
    # 35 profiles in 20 minutes: under the gates (50 requests, 40 profiles an hour)
    metronome, person = profile_walk(35, minutes=20), profile_walk(35, minutes=20, irregular=True)
    for s in (metronome, person):
        s.score = 0.85
    v = POLICY.evaluate(metronome, metronome.last_ts, Action.ALLOW)
    assert v.reasons == ("anomaly_score 0.850 > 0.8 with a regular run of pages below the gates",)
    # the same volume clicked as a person clicks is not evidence enough
    assert POLICY.evaluate(person, person.last_ts, Action.ALLOW).action == Action.ALLOW
    # under `challenge`, or with the run switched off, it does not act
    metronome.score = 0.79
    assert POLICY.evaluate(metronome, metronome.last_ts, Action.ALLOW).action == Action.ALLOW
    metronome.score = 0.85
    off = parse_policy("[score]\nregular_min_profiles_per_hour = 0")
    assert off.evaluate(metronome, metronome.last_ts, Action.ALLOW).action == Action.ALLOW
    # a policy that does not take regular_pages as a sign does not take the run either
    no_sign = parse_policy("[score]\nrequire_one_of = ['automation_ua']")
    assert no_sign.evaluate(metronome, metronome.last_ts, Action.ALLOW).action == Action.ALLOW
    # fewer profile views in the hour than the run's floor
    high = parse_policy("[score]\nregular_min_profiles_per_hour = 36")
    assert high.evaluate(metronome, metronome.last_ts, Action.ALLOW).action == Action.ALLOW


def test_a_rapid_run_of_pages_lets_a_score_act_where_the_policy_takes_the_sign() -> None:
    # 40 profiles in a minute, at uneven gaps: no metronome, but in a hurry
    hurry = profile_walk(40, minutes=1.0, irregular=True)
    hurry.score = 0.85
    rapid = parse_policy("[score]\nrequire_one_of = ['regular_pages', 'rapid_pages']")
    v = rapid.evaluate(hurry, hurry.last_ts, Action.ALLOW)
    assert v.reasons == ("anomaly_score 0.850 > 0.8 with a rapid run of pages below the gates",)
    # the packaged policy does not take the sign (docs/evaluation.md), nor one without it
    assert POLICY.evaluate(hurry, hurry.last_ts, Action.ALLOW).action == Action.ALLOW
    regular_only = parse_policy("[score]\nrequire_one_of = ['regular_pages']")
    assert regular_only.evaluate(hurry, hurry.last_ts, Action.ALLOW).action == Action.ALLOW
    # the same 40 profiles at a reader's pace (20 minutes), or a score at `challenge`: no
    reader = profile_walk(40, minutes=20, irregular=True)
    reader.score = 0.85
    assert rapid.evaluate(reader, reader.last_ts, Action.ALLOW).action == Action.ALLOW
    hurry.score = 0.8
    assert rapid.evaluate(hurry, hurry.last_ts, Action.ALLOW).action == Action.ALLOW
    # past the gates (60 profiles in 90 s) it is a sign like the others
    busy = profile_walk(60, minutes=1.5, irregular=True)
    busy.score = 0.85
    v = rapid.evaluate(busy, busy.last_ts, Action.ALLOW)
    assert v.reasons == ("anomaly_score 0.850 > 0.8 with rapid_pages",)
    rapid_only = parse_policy("[score]\nrequire_one_of = ['rapid_pages']")
    assert rapid_only.evaluate(busy, busy.last_ts, Action.ALLOW).reasons == v.reasons
    # ... and its run's floor takes effect (only the crawlers' one, robots_txt's, does not)
    assert not any("regular_min" in note for note in rapid_only.inert_settings())
