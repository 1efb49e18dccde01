"""``scrapeguard replay``: access logs (text or JSON lines, several files, .gz) published
as request events, keeping event time (:mod:`stream.harness.access_log`,
:mod:`stream.harness.log_replay`)."""

from __future__ import annotations

import errno
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import click

from stream.cli.common import (
    broker_option,
    build_settings,
    events_out_option,
    friendly_errors,
)
from stream.core.client_address import TrustedProxies
from stream.harness.access_log import DEFAULT_PROFILE_PATH, JSON, LogFormatError, LogParser
from stream.harness.log_formats import detect_format, named_format
from stream.harness.log_replay import (
    Replay,
    crawler_labels,
    log_files,
    parse_log,
    publish_paced,
    replay_runs,
    source_names,
)
from stream.harness.sorted_runs import Run, compact, merge_runs
from stream.harness.traffic import publish_events, write_events, write_labels
from stream.harness.w3c_log import W3C
from stream.kafka.topics import ensure_topics


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
    help="nginx log_format string of $variables; a known format's name (combined, "
    "nginx-main, aws-alb, envoy, …: those auto tries); json (one JSON object per line: "
    "nginx's escape=json with its variables' names, Caddy, Traefik, Elastic Common Schema, "
    "Google Cloud's httpRequest, Cloudflare's Logpush); "
    "w3c (W3C extended, its fields named by #Fields: IIS, CloudFront); or "
    "auto: the richest known format (combined, combined with a session id after the "
    "referrer, a session id without the user field, with an ident, nginx's main, with "
    "more fields, common, Apache's vhost_combined, AWS's ALB and classic ELB, Envoy, "
    "Istio, w3c, json) that parses (within 2 %) as many of the first 500 lines as any.",
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
@events_out_option
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
@click.option(
    "--forwarded-for",
    "proxies",
    default=None,
    metavar="CIDR[,CIDR]",
    help="Your proxies (load balancers) in front of the server: for a request from one of "
    "them, the client's address is the nearest entry of $http_x_forwarded_for (nginx's main "
    "format, a JSON log's X-Forwarded-For) none of them vouches for, read right to left as "
    "/check reads it. Requests from other addresses keep $remote_addr: a client writes the "
    "header as it likes.",
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
    proxies: str | None = None,
) -> None:
    """Replay access logs (.gz too) as request events, keeping event time.

    Apache/nginx combined logs by default, or any nginx log_format, JSON lines, or W3C
    extended logs (IIS, CloudFront). The
    actor is the account ($account_id, $user_id; $remote_user only with
    --trust-remote-user), else the session ($session_id), else the IP ($remote_addr; the
    client X-Forwarded-For names, for a request from a proxy named with --forwarded-for).
    Lines that do not parse are
    counted and reported by line number.

    Several files, or directories (every file under them), are replayed as one log:
    each file's format is detected on its own (with auto), and their events are merged
    in event time — a dataset's humans/ and bots/ logs, or a server's rotated files.
    Memory stays bounded whatever the size: each file is sorted in runs spilled to a
    temporary directory ($TMPDIR), merged as they are sent.
    """
    if speed is not None and (max_speed or speed <= 0):
        raise click.UsageError("use either --speed X (X > 0) or --max-speed")
    log_format = named_format(log_format)
    try:
        forwarded_for = (
            None if proxies is None else TrustedProxies(p.strip() for p in proxies.split(","))
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--forwarded-for") from None
    try:
        files = log_files(paths)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None

    def parser(fmt: str, source: str) -> LogParser:
        return LogParser(
            fmt,
            profile_path,
            source=source,
            trust_remote_user=trust_remote_user,
            forwarded_for=forwarded_for,
        )

    with _spill_dir() as spill_to:
        try:
            replays = [
                _replay_file(path, source, log_format, parser, spill_to)
                for path, source in zip(files, source_names(files), strict=True)
            ]
            runs = replay_runs(replays)
            if spill_to is not None:
                runs = compact(runs, spill_to)
            _replay(replays, runs, events_out, labels_out, no_publish, broker, speed)
        except OSError as exc:  # a log unreadable, --events-out not writable, a full disk
            spilling = spill_to is not None and str(exc.filename or "").startswith(str(spill_to))
            hint = " (sorted runs go to $TMPDIR)" if spilling or exc.errno in _SPACE else ""
            raise click.ClickException(f"replay stopped: {exc}{hint}") from None


@contextmanager
def _spill_dir() -> Iterator[Path | None]:
    """A temporary directory for the sorted runs, removed after; None (the log sorted in
    memory, as before there were runs) when none can be made."""
    try:
        spill = tempfile.TemporaryDirectory(
            prefix="scrapeguard-replay-", ignore_cleanup_errors=True
        )
    except OSError as exc:
        click.echo(
            f"no temporary directory for the sorted runs ({exc}): the log is sorted in "
            "memory; set TMPDIR to replay a log larger than memory",
            err=True,
        )
        yield None
        return
    with spill:
        yield Path(spill.name)


_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EMFILE, errno.ENFILE)


def _replay(
    replays: list[Replay],
    runs: list[Run],
    events_out: Path | None,
    labels_out: Path | None,
    no_publish: bool,
    broker: str | None,
    speed: float | None,
) -> None:
    """The files' events, merged in event time (``runs``), written out and published:
    each a pass over the runs, none holding the log in memory."""
    events = sum(r.report.events for r in replays)
    if len(replays) > 1:
        click.echo(
            f"{len(replays)} files: {sum(r.report.lines for r in replays)} lines, "
            f"{events} events, {sum(r.report.bad for r in replays)} unparsable"
        )
    if events_out is not None:
        with closing(merge_runs(runs)) as merged:
            write_events(events_out, merged)
    if labels_out is not None:
        with closing(merge_runs(runs)) as merged:
            write_labels(labels_out, crawler_labels(merged))
    if not events and any(r.report.requests for r in replays):
        # lines, and not one of them an event: a wrong format, not an empty log
        raise click.ClickException("no line parsed: nothing to replay (see above)")
    if no_publish or not events:
        return
    settings = build_settings(broker=broker)
    ensure_topics(settings)
    started = time.monotonic()
    with closing(merge_runs(runs)) as merged:
        if speed is None:
            sent = publish_events(settings, merged)
        else:
            sent = publish_paced(settings, merged, speed)
    click.echo(
        f"published {sent} events to {settings.topic_requests} in {time.monotonic() - started:.1f}s"
    )


def _replay_file(
    path: Path,
    source: str,
    log_format: str,
    parser: Callable[[str, str], LogParser],
    spill_to: Path | None,
) -> Replay:
    """One file parsed (its format detected when ``log_format`` is auto), sorted in runs
    spilled to ``spill_to``, reported."""
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
        file_parser = parser(log_format, source)
    except LogFormatError as exc:
        raise click.UsageError(str(exc)) from None
    replayed = parse_log(path, file_parser, spill_to)
    rep = replayed.report
    click.echo(f"{path}: {rep.line()}")
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
    if given and rep.requests and not rep.events:
        click.echo(f"{path}: {_format_hint(path)}", err=True)
    if rep.forwarded > rep.events / 2 and file_parser.logs_peer and not file_parser.forwarded_for:
        click.echo(
            f"{path}: {rep.forwarded} of {rep.events} requests name an X-Forwarded-For "
            "address; behind a proxy every request has the proxy's address, and "
            "--forwarded-for PROXY_CIDR takes the client's",
            err=True,
        )
    if file_parser.forwarded_for and rep.events and not rep.forwarded:
        why = (
            "this format logs no $http_x_forwarded_for"
            if log_format not in (JSON, W3C) and "$http_x_forwarded_for" not in log_format
            else "no request of this log names an X-Forwarded-For address"
        )
        click.echo(f"{path}: --forwarded-for, but {why}: every address is $remote_addr", err=True)
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
