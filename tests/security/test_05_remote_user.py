"""Finding 5: log replay mapped ``$remote_user`` to ``account_id``. nginx logs the
Basic-auth name the client sends even on a 401, so a scraper could put its traffic on a
victim's account. The name becomes the account only with an explicit option for logs
whose authentication is verified, and never on a 401/407 response.
"""

from __future__ import annotations

from click.testing import CliRunner

from stream.cli import main
from stream.harness.access_log import LogParser

FAILED_LOGIN = (
    '203.0.113.66 - victim [17/May/2015:10:05:03 +0000] "GET /profiles/1 HTTP/1.1" 401 0 '
    '"-" "python-requests/2.31"'
)
SCRAPE = FAILED_LOGIN.replace(" 401 0 ", " 200 512 ")


def test_remote_user_is_not_an_account_by_default() -> None:
    parser = LogParser()
    for line in (FAILED_LOGIN, SCRAPE):
        ev = parser.parse_line(line, 1)
        assert ev is not None and "account_id" not in ev
        assert ev["ip"] == "203.0.113.66"  # the actor is the address the traffic came from


def test_only_an_explicit_option_trusts_it_and_never_on_a_failed_login() -> None:
    parser = LogParser(trust_remote_user=True)
    assert parser.parse_line(SCRAPE, 1)["account_id"] == "victim"  # type: ignore[index]
    assert "account_id" not in parser.parse_line(FAILED_LOGIN, 1)  # type: ignore[operator]


def test_replay_puts_the_traffic_on_the_address_not_the_claimed_account(tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "access.log"
    log.write_text("\n".join([SCRAPE] * 3) + "\n")
    out = tmp_path / "events.jsonl"
    result = CliRunner().invoke(
        main, ["replay", str(log), "--no-publish", "--events-out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "victim" not in out.read_text()
