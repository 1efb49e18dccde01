"""``scrapeguard worker`` and ``scrapeguard run``."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import click
import faust
from mode import Service
from pydantic import SecretStr

from models import REGISTRY
from models.registry import UnknownModel
from stream.cli.board import DecisionBoard
from stream.cli.common import (
    broker_option,
    build_settings,
    friendly_errors,
    policy_option,
    pseudonymizer,
    setup_logging,
)
from stream.core.ledger import Sealer
from stream.core.policy_loader import load_policy
from stream.harness.demo import DemoPublisher
from stream.harness.embedded_broker import EmbeddedBroker, port_open
from stream.kafka.topics import ensure_topics
from stream.settings import Settings


class _Worker(faust.Worker):
    """Faust's worker without its start-up spinner (it would garble the decisions board)."""

    def _on_startup_end_spinner(self) -> None:
        self.spinner = None


def start_worker(settings: Settings, *extra: Service) -> int:
    """Run a worker (and ``extra`` services) in this process until stopped."""
    policy = load_policy(settings.policy_file)
    try:
        REGISTRY.get(settings.model).validate(settings.model_params)
    except (UnknownModel, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    ensure_topics(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    from stream.runtime.app import create_worker

    parts = create_worker(settings, policy, pseudonymizer(settings))
    app = parts.app
    for service in extra:
        if hasattr(service, "attach"):
            service.attach(parts.detector)
    worker = _Worker(
        app,
        *extra,
        loglevel=settings.log_level,
        override_logging=False,
        quiet=True,
        redirect_stdouts=False,
    )
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


class StopAfter(Service):
    """Ends the worker after ``seconds``, the same way Ctrl-C does."""

    def __init__(self, seconds: float, **kwargs: Any) -> None:
        self.seconds = seconds
        super().__init__(**kwargs)

    @Service.task
    async def _countdown(self) -> None:
        await self.sleep(self.seconds)
        os.kill(os.getpid(), signal.SIGTERM)


@click.command()
@broker_option
@policy_option
@click.option(
    "--web-port",
    type=int,
    default=None,
    help="HTTP port for /health [env SCRAPEGUARD_WEB_PORT; default 6066; 0 = off].",
)
@friendly_errors
def worker(broker: str | None, policy_file: Path | None, web_port: int | None) -> None:
    """Run the detector: consume `requests`, publish `decisions` and `deadletter`.

    Start as many workers as there are partitions of `requests` (default 8), on
    one machine or many: they share the work through the Kafka consumer group.
    Logs are JSON lines on stderr when it is not a terminal.
    """
    settings = build_settings(broker=broker, policy_file=policy_file, web_port=web_port)
    setup_logging(settings)
    sys.exit(start_worker(settings))


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
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if settings.ledger_key is None:
        # the demo seals profile ids so the incident report can be revealed: a local key
        key_path = settings.data_dir / "ledger.key"
        if not key_path.exists():
            key_path.write_bytes(Sealer.new_key())
            key_path.chmod(0o600)
        settings = settings.model_copy(update={"ledger_key": SecretStr(key_path.read_text())})
        click.echo(
            f"run: ledger key for this demo in {key_path} "
            f"(scrapeguard incidents report ID --reveal-with {key_path})"
        )
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
