"""``scrapeguard run``: the embedded broker, a worker, demo traffic and the live board."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click
from mode import Service
from pydantic import SecretStr

from stream.cli.board import DecisionBoard
from stream.cli.common import (
    broker_option,
    build_settings,
    friendly_errors,
    policy_option,
    setup_logging,
)
from stream.cli.worker import start_worker
from stream.harness.demo import DemoPublisher
from stream.harness.embedded_broker import EmbeddedBroker, port_open
from stream.keys import REQUIRED, env_name, load_or_create
from stream.settings import Settings


class StopAfter(Service):
    """Ends the worker after ``seconds``, the same way Ctrl-C does."""

    def __init__(self, seconds: float, **kwargs: Any) -> None:
        self.seconds = seconds
        super().__init__(**kwargs)

    @Service.task
    async def _countdown(self) -> None:
        await self.sleep(self.seconds)
        os.kill(os.getpid(), signal.SIGTERM)


def with_demo_keys(settings: Settings) -> Settings:
    """Keys the environment does not set, from ``<data_dir>/keys.env``: random, written
    once with mode 0600, so the demo stays one command and no key is ever a default."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    keys_path = settings.data_dir / "keys.env"
    fresh = not keys_path.exists()
    stored = load_or_create(keys_path)
    update: dict[str, Any] = {}
    for name in REQUIRED:
        if getattr(settings, name) is None and stored.get(env_name(name)):
            update[name] = SecretStr(stored[env_name(name)])
    if "ledger_key" in update:
        # the incident report's --reveal-with takes the ledger key as a file of its own
        ledger_path = settings.data_dir / "ledger.key"
        if not ledger_path.exists():
            fd = os.open(ledger_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(update["ledger_key"].get_secret_value())
        update["ledger_key"] = SecretStr(ledger_path.read_text().strip())
        click.echo(
            f"run: ledger key for this demo in {ledger_path} "
            f"(scrapeguard incidents report ID --reveal-with {ledger_path})"
        )
    if update:
        click.echo(
            f"run: {'generated' if fresh else 'using'} this machine's demo keys in {keys_path}"
        )
    return settings.model_copy(update=update)


@click.command()
@click.option(
    "--duration",
    type=float,
    default=None,
    metavar="S",
    help="Stop after S seconds (default: run until Ctrl-C).",
)
@broker_option
@policy_option
@click.option(
    "--web-port", type=int, default=None, help="HTTP port for /health [default 6066; 0 = off]."
)
@click.option("--seed", type=int, default=7, show_default=True, help="Seed of the demo traffic.")
@friendly_errors
def run(
    duration: float | None,
    broker: str | None,
    policy_file: Path | None,
    web_port: int | None,
    seed: int,
) -> None:
    """The whole thing on one machine: broker + worker + demo traffic + live decisions.

    Starts the embedded broker when SCRAPEGUARD_BROKER is the default and nothing
    listens there, runs a worker, publishes a demo mix in real time (six people
    browsing, one bulk scraper, one new account that starts aggressively) and shows
    each decision as enforcement would receive it. Logs go to .scrapeguard/run.log.
    """
    settings = build_settings(broker=broker, policy_file=policy_file, web_port=web_port)
    settings = with_demo_keys(settings)
    log_path = settings.data_dir / "run.log"
    log_file = open(log_path, "a")  # noqa: SIM115 - closed below
    setup_logging(settings.model_copy(update={"log_format": "json"}), stream=log_file)
    embedded: EmbeddedBroker | None = None
    if settings.is_default_broker:
        host, port = settings.bootstrap[0].rsplit(":", 1)
        if port_open(host, int(port)):
            click.echo(f"run: using the broker already listening on {settings.broker}")
        else:
            embedded = EmbeddedBroker(
                port=int(port), host=host, log_path=settings.data_dir / "broker.log"
            )
            embedded.start()
            click.echo(f"run: embedded broker started on {embedded.url} (in memory)")
    click.echo(
        f"run: worker starting; logs in {log_path}"
        + (
            f"; health on http://{settings.web_host}:{settings.web_port}/health"
            if settings.web_port
            else ""
        )
    )
    board = DecisionBoard(settings, started_at=time.time())
    extra: list[Service] = [DemoPublisher(settings, seed=seed), board]
    if duration is not None:
        extra.append(StopAfter(duration))
    try:
        code = start_worker(settings, *extra)
    finally:
        if embedded is not None:
            embedded.stop()
        log_file.close()
    board.print_summary()
    sys.exit(code)
