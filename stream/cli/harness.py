"""The stress harness: ``simulate``, ``replay``, ``evaluate`` and ``stress``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, TypeVar

import click

from stream.cli.common import (
    broker_option,
    build_settings,
    fpr_option,
    friendly_errors,
    labels_option,
    out_option,
)
from stream.core.validation import parse_ts
from stream.harness import evaluation_report
from stream.harness.access_log import (
    DEFAULT_PROFILE_PATH,
    LogFormatError,
    LogParser,
    detect_format,
)
from stream.harness.live_evaluation import run_evaluation, wait_for_worker
from stream.harness.log_replay import (
    Replay,
    crawler_labels,
    log_files,
    merge_replays,
    parse_log,
    publish_paced,
    source_names,
)
from stream.harness.personas import (
    DEFAULT_MIX,
    PERSONAS,
    Simulation,
    parse_mix,
    simulated_policy_text,
)
from stream.harness.traffic import publish_events, write_events, write_labels
from stream.kafka.topics import ensure_topics

F = TypeVar("F", bound=Any)

SIMULATE_HELP = f"""Publish labelled scraper personas and people to `requests`, in event time.

Personas: {", ".join(PERSONAS)}. Labels go to --labels as `actor label` lines:
`human` and `human_*` are people, `allowlisted_*` must never be acted on, every other
label is a kind of bot. The simulated crawler is only allowlisted if your policy
says so (`scrapeguard stress` adds it; see stream/harness/personas).

The traffic covers --hours of event time ending at --end-ts, by default now (the
wall clock): then two runs with one seed differ (people follow the hour of the day).
With the same seed and the same --end-ts, the events and labels are byte-identical.
"""


class EventTime(click.ParamType):
    """Epoch seconds (``1700000000.5``) or ISO-8601 (``2024-05-01T12:00:00Z``; naive = UTC)."""

    name = "TS"

    def convert(self, value: object, param: click.Parameter | None, ctx: object) -> float:
        if isinstance(value, int | float):
            return float(value)
        text = str(value).strip()
        try:
            ts = float(text)
        except ValueError:
            parsed = parse_ts(text.replace("Z", "+00:00") if text.endswith("Z") else text)
            if parsed is None:
                self.fail(f"{text!r} is neither epoch seconds nor ISO-8601", param, None)
            return parsed
        if ts != ts or ts in (float("inf"), float("-inf")):
            self.fail(f"{text!r} is not a finite number of seconds", param, None)
        return ts


def end_ts_option(fn: F) -> F:
    return click.option(
        "--end-ts",
        type=EventTime(),
        default=None,
        help="End of the simulated event time: epoch seconds or ISO-8601 (naive = UTC) "
        "[default: now, so runs differ; give it for identical events from one seed].",
    )(fn)


@click.command(help=SIMULATE_HELP)
@click.option("--actors", default=600, show_default=True, help="Actors to simulate (about).")
@click.option(
    "--hours", default=12.0, show_default=True, help="Hours of event time, up to --end-ts."
)
@click.option(
    "--mix",
    default=None,
    metavar="P=S,...",
    help="Persona shares, e.g. human=0.9,bulk_scraper=0.1 [default: "
    + ",".join(f"{k}={v}" for k, v in DEFAULT_MIX.items())
    + "].",
)
@click.option("--seed", default=1, show_default=True, help="Same seed, same traffic.")
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("labels.txt"),
    show_default=True,
    help="Where to write the labels.",
)
@click.option(
    "--events-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the events as JSON lines (for `models evaluate --events`).",
)
@click.option(
    "--policy-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the default policy with the simulated verified crawler's allowlist "
    "(for `models evaluate --policy`; without it that crawler is judged like any actor).",
)
@end_ts_option
@click.option("--no-publish", is_flag=True, help="Only write files; do not publish.")
@broker_option
@friendly_errors
def simulate(
    actors: int,
    hours: float,
    mix: str | None,
    seed: int,
    labels_path: Path,
    events_out: Path | None,
    policy_out: Path | None,
    end_ts: float | None,
    no_publish: bool,
    broker: str | None,
) -> None:
    """Simulate a labelled persona mix (people, scrapers, a verified crawler), publish it to
    `requests` and write the labels (`actor label` per line)."""
    end = time.time() if end_ts is None else end_ts
    if policy_out is not None:
        policy_out.write_text(simulated_policy_text())
    sim = Simulation(actors, hours, end, parse_mix(mix), seed)
    events = sim.events()
    write_labels(labels_path, sim.labels())
    if events_out is not None:
        write_events(events_out, events)
    click.echo(
        f"simulated {len(sim.labels())} actors, {len(events)} events over {hours:g}h "
        f"ending at {end:.3f} (seed {seed}); labels in {labels_path}"
    )
    if no_publish:
        return
    settings = build_settings(broker=broker)
    ensure_topics(settings)
    started = time.monotonic()
    sent = publish_events(settings, events)
    click.echo(
        f"published {sent} events to {settings.topic_requests} in {time.monotonic() - started:.1f}s"
    )


@click.command()
@click.argument(
    "paths",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, path_type=Path),
    metavar="FILE_OR_DIR...",
)
@click.option(
    "--log-format",
    default="auto",
    show_default=True,
    help="nginx log_format string of $variables; json (one JSON object per line: "
    "nginx's escape=json with its variables' names, Caddy, Traefik, Elastic Common Schema); or "
    "auto: the richest known format (combined, combined with a session id after the "
    "referrer, a session id without the user field, with an ident, with more fields, "
    "common, Apache's vhost_combined, json) that parses (within 2 %) as many of the first "
    "500 lines as any.",
)
@click.option(
    "--profile-path",
    default=DEFAULT_PROFILE_PATH,
    show_default=True,
    help="Regex with a named group (?P<id>...) that finds the profile id in a path.",
)
@click.option(
    "--speed",
    type=float,
    default=None,
    metavar="X",
    help="Replay at X times the log's own pace (1 = real time).",
)
@click.option("--max-speed", is_flag=True, help="As fast as possible (the default).")
@click.option(
    "--events-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write the events as JSON lines.",
)
@click.option(
    "--labels-out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write `actor label` lines for `evaluate`: declared_crawler when a request of the "
    "actor declares a crawler user agent, else human_unverified.",
)
@click.option(
    "--trust-remote-user",
    is_flag=True,
    help="Take $remote_user as the account. Only for logs whose authentication is verified: "
    "nginx logs the name a client sends even when the login fails.",
)
@click.option("--no-publish", is_flag=True, help="Parse and report only.")
@broker_option
@friendly_errors
def replay(
    paths: tuple[Path, ...],
    log_format: str,
    profile_path: str,
    speed: float | None,
    max_speed: bool,
    events_out: Path | None,
    labels_out: Path | None,
    no_publish: bool,
    broker: str | None,
    trust_remote_user: bool = False,
) -> None:
    """Replay access logs (.gz too) as request events, keeping event time.

    Apache/nginx combined logs by default, or any nginx log_format. The actor is the
    account ($account_id, $user_id; $remote_user only with --trust-remote-user), else
    the session ($session_id), else the IP. Lines that do not parse are counted and
    reported by line number.

    Several files, or directories (every file under them), are replayed as one log:
    each file's format is detected on its own (with auto), and their events are merged
    in event time — a dataset's humans/ and bots/ logs, or a server's rotated files.
    """
    if speed is not None and (max_speed or speed <= 0):
        raise click.UsageError("use either --speed X (X > 0) or --max-speed")
    try:
        files = log_files(paths)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    replays = [
        _replay_file(path, source, log_format, profile_path, trust_remote_user)
        for path, source in zip(files, source_names(files), strict=True)
    ]
    events = merge_replays(replays)
    if len(files) > 1:
        click.echo(
            f"{len(files)} files: {sum(r.report.lines for r in replays)} lines, "
            f"{len(events)} events, {sum(r.report.bad for r in replays)} unparsable"
        )
    if events_out is not None:
        write_events(events_out, events)
    if labels_out is not None:
        write_labels(labels_out, crawler_labels(events))
    if not events and any(r.report.lines for r in replays):
        # lines, and not one of them an event: a wrong format, not an empty log
        raise click.ClickException("no line parsed: nothing to replay (see above)")
    if no_publish or not events:
        return
    settings = build_settings(broker=broker)
    ensure_topics(settings)
    started = time.monotonic()
    if speed is None:
        sent = publish_events(settings, events)
    else:
        sent = publish_paced(settings, events, speed)
    click.echo(
        f"published {sent} events to {settings.topic_requests} in {time.monotonic() - started:.1f}s"
    )


def _replay_file(
    path: Path, source: str, log_format: str, profile_path: str, trust_remote_user: bool
) -> Replay:
    """One file parsed (its format detected when ``log_format`` is auto), reported."""
    given = log_format != "auto"
    try:
        if not given:
            found = detect_format(path)
            log_format = found.fmt
            lacks = f"; without {' and '.join(found.lacks)}" if found.lacks else ""
            click.echo(
                f"{path}: log format {found.name} (auto: parses {found.matched} of the first "
                f"{found.sampled} lines{lacks}; --log-format to choose)"
            )
        parser = LogParser(
            log_format, profile_path, source=source, trust_remote_user=trust_remote_user
        )
    except LogFormatError as exc:
        raise click.UsageError(str(exc)) from None
    replayed = parse_log(path, parser)
    rep = replayed.report
    click.echo(f"{path}: {rep.lines} lines, {rep.events} events, {rep.bad} unparsable")
    if rep.refused:
        reasons = ", ".join(f"{n} {reason}" for reason, n in rep.refused.most_common())
        click.echo(
            f"{path}: {rep.refused.total()} events the worker will refuse and dead-letter "
            f"({reasons})",
            err=True,
        )
    if rep.read_error:
        click.echo(
            f"{path}: reading stopped after line {rep.lines} ({rep.read_error}); the lines "
            "before it are replayed",
            err=True,
        )
    if rep.bad:
        shown = ", ".join(map(str, rep.bad_lines[:20]))
        more = f" (and {rep.bad - 20} more)" if rep.bad > 20 else ""
        click.echo(f"{path}: unparsable lines: {shown}{more}", err=True)
        for example in rep.bad_examples[:3]:
            click.echo(f"  e.g. {example}", err=True)
    if given and rep.lines and not rep.events:
        click.echo(f"{path}: {_format_hint(path)}", err=True)
    return replayed


def _format_hint(path: Path) -> str:
    """What to try when a given --log-format parsed none of a file's lines."""
    try:
        found = detect_format(path)
    except LogFormatError:
        return (
            "no line matches the --log-format given: compare its fields and separators, "
            "one by one, with the lines shown above"
        )
    return (
        f"no line matches the --log-format given, but the known format {found.name} parses "
        f"{found.matched} of the first {found.sampled} lines: try --log-format auto"
    )


@click.command(name="evaluate")
@labels_option
@out_option("evaluation", "report.json and report.html")
@click.option("--include-shadow", is_flag=True, help="Count shadow decisions too.")
@click.option(
    "--wait-s",
    type=click.FloatRange(0.0),
    default=600.0,
    show_default=True,
    help="First wait, up to this long, until the worker has worked everything published "
    "before this command (requests, then the group signals they lead to), so that a "
    "replay or simulation just published is evaluated whole; it stops early with an "
    "error when the worker does not move for two minutes. 0: evaluate at once.",
)
@fpr_option
@broker_option
@friendly_errors
def evaluate_cmd(
    labels_paths: tuple[Path, ...],
    out: Path,
    include_shadow: bool,
    wait_s: float,
    fpr: float,
    broker: str | None,
) -> None:
    """Score a run: AUC, recall, time to detect, precision and the cost to people.

    Reads `decisions`, the model scores and `requests` (every actor's first event) from
    Kafka and matches the labels to the run's actors (it reports ids that matched
    nothing). Prints, per label: recall (people: acted on), time to first action, the
    model against rules-only — derived from the decisions' reasons, as a live run
    happens once — with the lift; ROC AUC over all labelled actors (an unscored actor
    ranks lowest) and among the scored, per bot label, and recall at a fixed
    false-positive rate. Writes report.json and report.html (opens offline).
    """
    settings = build_settings(broker=broker)
    if wait_s > 0:
        started = time.monotonic()
        left = wait_for_worker(settings, wait_s, lambda m: click.echo(m, err=True))
        click.echo(
            f"the worker has worked everything published (it had {left['requests']} "
            f"records of requests left; waited {time.monotonic() - started:.1f} s)",
            err=True,
        )
    rep = run_evaluation(settings, labels_paths, out, include_shadow, fpr)
    click.echo(evaluation_report.full_text(rep))
    click.echo(f"\nreport: {out / 'report.json'}, {out / 'report.html'}")
