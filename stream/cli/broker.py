"""``scrapeguard broker``: the embedded Kafka-protocol broker in the foreground."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import click

from stream.cli.common import friendly_errors
from stream.harness.embedded_broker import EmbeddedBroker


@click.command()
@click.option("--port", default=9092, show_default=True, help="TCP port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@friendly_errors
def broker(port: int, host: str) -> None:
    """Run the embedded Kafka-protocol broker (Tansu, in memory) until Ctrl-C.

    Data lives in memory only and is gone when the broker stops. Point
    SCRAPEGUARD_BROKER at a real cluster for anything that must be kept.
    """
    embedded = EmbeddedBroker(port=port, host=host)
    stopping = False

    def _stop(signum: int, frame: FrameType | None) -> None:
        # only ask the broker to stop here; the main thread is waiting for it to exit
        nonlocal stopping
        stopping = True
        embedded.terminate()

    # handlers first: a signal that arrives just after the announcement must stop cleanly
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    embedded.start()
    if stopping:  # signalled while starting
        embedded.stop()
        click.echo("broker: stopped")
        return
    click.echo(
        f"broker: accepting connections on {embedded.url} (Tansu, in-memory); Ctrl-C stops it"
    )
    sys.stdout.flush()
    code = embedded.wait()
    embedded.stop()
    if stopping:
        click.echo("broker: stopped")
        return
    raise click.ClickException(f"embedded broker exited unexpectedly with code {code}")
