"""One embedded broker and one worker for the whole test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from stream import keys
from stream.core.policy_loader import default_policy_text
from stream.harness.embedded_broker import EmbeddedBroker, free_port
from stream.harness.worker_process import WorkerProcess

# random keys for this test session: a worker refuses to start without them
KEYS = keys.generate()
CONTROL_KEY = KEYS["SCRAPEGUARD_CONTROL_KEY"]
LEDGER_KEY = KEYS["SCRAPEGUARD_LEDGER_KEY"]
API_TOKEN = keys.new_secret()  # the session worker's API requires it (tests/e2e/http.py)

# The e2e policy is the default one plus a verified crawler on the allowlist.
E2E_ALLOWLIST = """
[[allowlist.crawler]]
user_agent = "ExampleSearchBot"
ip_ranges = ["192.0.2.0/24"]
"""


@pytest.fixture(scope="session")
def session_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def broker(session_dir: Path) -> Iterator[EmbeddedBroker]:
    b = EmbeddedBroker(port=free_port(), log_path=session_dir / "broker.log")
    b.start()
    yield b
    b.stop()


@pytest.fixture(scope="session")
def worker_env(broker: EmbeddedBroker, session_dir: Path) -> dict[str, str]:
    policy = session_dir / "policy.toml"
    policy.write_text(default_policy_text() + E2E_ALLOWLIST)
    return {
        "SCRAPEGUARD_BROKER": broker.url,
        "SCRAPEGUARD_APP_ID": "e2e",
        "SCRAPEGUARD_WEB_PORT": str(free_port()),
        "SCRAPEGUARD_POLICY_FILE": str(policy),
        "SCRAPEGUARD_DATA_DIR": str(session_dir / "data"),
        "SCRAPEGUARD_LOG_FORMAT": "json",
        "SCRAPEGUARD_SNAPSHOT_EVERY_S": "2",
        "SCRAPEGUARD_INCIDENT_QUIET_S": "3600",
        "SCRAPEGUARD_API_TOKEN": API_TOKEN,
        # /check reads a tenant: the nginx test shows the shipped config drops a client's
        "SCRAPEGUARD_CHECK_TENANT_HEADER": "X-Tenant-Id",
        **KEYS,
    }


@pytest.fixture(scope="session")
def worker(worker_env: dict[str, str], session_dir: Path) -> Iterator[WorkerProcess]:
    w = WorkerProcess(worker_env, session_dir / "worker.log")
    w.start()
    yield w
    w.stop()
