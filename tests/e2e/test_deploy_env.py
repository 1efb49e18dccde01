"""A worker starts with the environment deploy/compose.yaml gives worker-1: the shipped
env example, generated secrets, the service's own variables. Only where it runs changes
(a private broker instead of the kafka service, a free port, a scratch directory)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from stream.harness.embedded_broker import EmbeddedBroker, free_port
from tests.deploy.compose_env import service_environment
from tests.deploy.conftest import DEPLOY, new_secrets
from tests.e2e import http

pytestmark = pytest.mark.broker


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    broker = EmbeddedBroker(port=free_port(), log_path=tmp_path / "broker.log")
    broker.start()
    yield broker
    broker.stop()


def test_a_worker_starts_with_the_compose_environment(
    private_broker: EmbeddedBroker, tmp_path: Path
) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    env = service_environment(compose, "worker-1", DEPLOY, {"secrets.env": new_secrets()})
    port = free_port()
    here = {  # the host and port it runs on here; every other value as compose sets it
        "SCRAPEGUARD_BROKER": private_broker.url,
        "SCRAPEGUARD_WEB_HOST": "127.0.0.1",
        "SCRAPEGUARD_WEB_PORT": str(port),
    }
    base = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPEGUARD_")}
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - the child writes it
    proc = subprocess.Popen(
        [sys.executable, "-m", "stream", "worker"],
        env={**base, **env, **here},
        cwd=tmp_path,  # SCRAPEGUARD_DATA_DIR is relative, as in the image's home
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline, status, body = time.monotonic() + 90, 0, None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, body = http.get(port, "/health")
            except OSError:
                status = 0
            if status == 200:
                break
            time.sleep(0.5)
        output = (tmp_path / "worker.log").read_text()[-3000:]
        assert status == 200 and body["ready"], output
        assert body["partitions"] == list(range(8))
        assert http.get(port, "/health/serving")[0] == 200
        assert (tmp_path / ".scrapeguard").is_dir()
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()
