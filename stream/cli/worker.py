"""``scrapeguard worker``: the detector and its agents in this process.

Imports nothing from :mod:`stream.harness` (``tests/cli/test_cli.py`` checks it).
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

import click
import faust
import structlog
from mode import Service

from models import REGISTRY
from models.registry import UnknownModel
from stream.cli.common import (
    broker_option,
    build_settings,
    friendly_errors,
    policy_option,
    pseudonymizer,
    setup_logging,
)
from stream.core.compiled import summary
from stream.core.policy_loader import load_policy
from stream.core.subkeys import hash_key
from stream.core.windows import use_hash_key
from stream.kafka.topics import ensure_topics
from stream.keys import check_worker_settings
from stream.settings import Settings

log = structlog.get_logger(__name__)

GC_OLDER_THRESHOLD = 20  # young collections per middle one, middle ones per full one


class _Worker(faust.Worker):
    """Faust's worker without its start-up spinner (it would garble the decisions board)."""

    def _on_startup_end_spinner(self) -> None:
        self.spinner = None


def configure_interpreter(settings: Settings) -> None:
    """Process-wide: this process is a worker, its batch thread beside the event loop.
    How long a thread keeps the GIL, and how often the cyclic garbage collector runs
    (docs/performance.md, *The switch interval* and *Garbage collection*); the key of
    the profile and address hashes, from the pseudonym key (docs/security.md, S1)."""
    key = settings.pseudonym_key  # check_worker_settings has made sure there is one
    if key is not None:
        use_hash_key(hash_key(key.get_secret_value().encode()))
    sys.setswitchinterval(settings.gil_switch_interval_ms / 1000)
    gc.set_threshold(settings.gc_young_threshold, GC_OLDER_THRESHOLD, GC_OLDER_THRESHOLD)


def start_worker(settings: Settings, *extra: Service) -> int:
    """Run a worker (and ``extra`` services: the demo's traffic and board) until stopped."""
    check_worker_settings(settings)  # no default secrets, no open API: before anything else
    policy = load_policy(settings.policy_file)
    for note in policy.inert_settings():
        log.warning("policy_setting_inert", source=policy.source, note=note)
    try:
        REGISTRY.get(settings.model).validate(settings.model_params)
    except (UnknownModel, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    ensure_topics(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    configure_interpreter(settings)
    from stream.runtime.app import create_worker

    parts = create_worker(settings, policy, pseudonymizer(settings))
    core = summary()  # the compiled core, or its sources (stream.core.compiled)
    if core == "compiled":
        log.info("worker_core", core=core)
    else:
        hint = "make install compiles it: 1.8x less CPU per event in the core"
        log.warning("worker_core", core=core, hint=hint)
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
