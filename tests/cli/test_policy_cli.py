"""``scrapeguard policy``: the default, ``check`` (exit codes, file and line), what-if."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
from click.testing import CliRunner

from stream.cli import main
from tests.helpers import T0, event


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["policy", *args], env={"SCRAPEGUARD_POLICY_FILE": ""})
    return result.exit_code, result.output


def test_bare_policy_and_show_print_the_default() -> None:
    assert run()[1] == run("show")[1] and "[limits]" in run()[1]


def test_check_accepts_a_good_file_and_the_default(tmp_path: Path) -> None:
    good = tmp_path / "p.toml"
    good.write_text("[limits]\nrequests_per_minute = { challenge = 100 }\n")
    assert run("check", str(good)) == (0, f"{good}: valid\n")
    default = tmp_path / "default.toml"
    default.write_text(run("show")[1])
    assert run("check", str(default))[0] == 0


def test_check_notes_settings_that_cannot_take_effect_and_still_passes(tmp_path: Path) -> None:
    narrow = tmp_path / "p.toml"
    narrow.write_text('[score]\nrequire_one_of = ["automation_ua"]\n')
    code, out = run("check", str(narrow))
    assert code == 0
    assert out.startswith(f"{narrow}: valid\n  note: [score] regular_min_profiles_per_hour")
    assert out.count("note:") == 2
    doc = orjson.loads(run("check", str(narrow), "--json")[1])
    assert doc["valid"] is True and len(doc["notes"]) == 2


def test_check_exits_non_zero_on_any_mistake_with_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text(
        "[limits]\nrequests_per_minute = { challenge = 100 }\n\n[score]\nchalenge = 0.5\n"
    )
    code, out = run("check", str(bad))
    assert code == 1
    assert f"{bad}:5: [score] unknown key 'chalenge' (did you mean 'challenge'?)" in out


def events_file(tmp_path: Path) -> Path:
    """A scraper with no sign of automation (irregular gaps, ids in no order, a browser):
    it crosses the hourly profile limit before its score is sure enough to act without a
    sign (``challenge_alone``)."""
    rng = random.Random(3)
    ts, scraper = T0, []
    for i in range(500):
        ts += rng.lognormvariate(1.3, 0.9)  # ~6 s on average, irregular
        scraper.append(
            event(
                i, ts, account="scraper", target_profile_id=rng.randrange(10**9), fields=["email"]
            )
        )
    person = [event(i, T0 + i * 60.0, account="person", target_profile_id=i % 7) for i in range(40)]
    path = tmp_path / "events.jsonl"
    docs = sorted(scraper + person, key=lambda e: e["ts"])
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in docs))
    return path


def test_what_if_shows_decisions_by_reason_under_both_policies(tmp_path: Path) -> None:
    lenient = tmp_path / "lenient.toml"
    lenient.write_text("[escalation]\nblock_after_challenge_views = 1000\n")
    code, out = run("check", str(lenient), "--events", str(events_file(tmp_path)), "--json")
    assert code == 0, out
    doc = orjson.loads(out)
    rows = {(r["action"], r["reason"]): (r["current"], r["proposed"]) for r in doc["by_reason"]}
    # 500 profiles in ~50 minutes: challenged by the hourly limit, then blocked 100 views
    # later by the default; the lenient file lets the challenge stand
    assert rows == {
        ("challenge", "profiles_per_hour"): (1, 1),
        ("block", "profiles_per_hour"): (1, 0),
        ("block", "profile_views_after_challenge"): (1, 0),
    }
    assert doc["current"]["by_action"] == {"challenge": 1, "block": 1}
    assert doc["proposed"]["by_action"] == {"challenge": 1}
    assert doc["events"] == 540
    code, text = run("check", str(lenient), "--events", str(tmp_path / "events.jsonl"))
    assert code == 0 and "block profile_views_after_challenge" in text and "(-1)" in text


def test_what_if_against_a_named_policy(tmp_path: Path) -> None:
    off = tmp_path / "off.toml"
    off.write_text(
        "[limits]\nprofiles_per_hour = {}\nprofiles_per_day = {}\n[score]\nchallenge_alone = 1.0\n"
    )
    code, out = run(
        "check",
        str(off),
        "--events",
        str(events_file(tmp_path)),
        "--against",
        str(off),
        "--json",
    )
    doc = orjson.loads(out)
    assert code == 0 and doc["against"] == str(off)
    assert doc["current"] == doc["proposed"] and doc["current"]["decisions"] == 0


def test_what_if_on_a_malformed_events_file_names_file_and_line(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"ts": 1}\n\nnot json\n')
    code, out = run("check", str(tmp_path / "events.jsonl"), "--events", str(events))
    assert code == 1  # the policy file is not TOML either: that comes first
    good = tmp_path / "p.toml"
    good.write_text("shadow = false\n")
    code, out = run("check", str(good), "--events", str(events))
    assert code == 1 and f"{events}:3: not JSON" in out
