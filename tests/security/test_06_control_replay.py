"""Finding 6: control-topic replay.

Applied ids were an in-memory list (the last 10,000); ``issued_at`` was never checked;
after retention and a restart an old signed deploy or rollback was accepted again;
refused messages were not recorded and could be replayed later. Now: an ``issued_at``
window, a per-issuer sequence number folded from a control log that is never deleted,
and every signed message — applied or refused — uses up its id and sequence number.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from pydantic import SecretStr

from models import REGISTRY
from stream.core.control import sign
from stream.kafka.topics import topic_specs
from stream.runtime.model_lifecycle import ModelManager
from stream.settings import Settings

KEY = "a-control-key-held-by-operators-32b"
HST = REGISTRY.get("hst").spec()
OCSVM = REGISTRY.get("ocsvm").spec()


def message(op: str, seq: int, issued_at: float | None = None, **extra: Any) -> bytes:
    body = {
        "v": 2,
        "id": uuid.uuid4().hex,
        "op": op,
        "issuer": "ops@host",
        "seq": seq,
        "issued_at": time.time() if issued_at is None else issued_at,
        **extra,
    }
    return sign(body, KEY.encode())


def manager() -> ModelManager:
    return ModelManager(
        Settings(control_key=SecretStr(KEY), snapshot_key=SecretStr("s" * 40), model="hst")
    )


def fold(m: ModelManager, *messages: bytes) -> None:
    for raw in messages:
        m.receive(raw)
    m.apply_pending({})


DEPLOY_SHADOW = {"spec": OCSVM.as_dict(), "slot": "shadow"}


def test_an_old_deploy_replayed_after_a_restart_is_refused() -> None:
    first, second = message("deploy", 1, **DEPLOY_SHADOW), message("retire_shadow", 2)
    before = manager()
    fold(before, first, second)
    assert before.slots.shadow is None
    # a restart, and the first message is gone from the log (retention) or replayed
    after = manager()
    fold(after, second, first)
    assert after.slots.shadow is None, "the replayed deploy was applied again"
    assert after.stats["control_refused_replayed"] == 1


def test_a_message_issued_long_before_it_was_appended_is_refused() -> None:
    m = manager()
    fold(m, message("deploy", 1, issued_at=time.time() - 3600, **DEPLOY_SHADOW))
    assert m.slots.shadow is None
    assert m.stats["control_refused_stale"] == 1


def test_a_refused_message_is_remembered_and_refused_again() -> None:
    m = manager()
    early_promote = message("promote", 1)
    fold(m, early_promote)  # refused: there is no shadow yet
    assert m.stats["control_refused_no_shadow"] == 1
    fold(m, message("deploy", 2, **DEPLOY_SHADOW), early_promote)
    assert m.slots.live == HST and m.slots.shadow == OCSVM, "the refused promote came back"


def test_the_control_log_is_never_deleted_nor_compacted() -> None:
    settings = Settings()
    (spec,) = [t for t in topic_specs(settings) if t.name == settings.topic_control]
    assert spec.config.get("retention.ms") == "-1"
    assert spec.config.get("cleanup.policy", "delete") == "delete"
