"""Which model scores each partition: control commands, shadow, rollback, snapshots.

The detector owns one :class:`ModelManager`. It folds verified control messages
through :class:`~stream.core.control.ModelSlots` and carries each change over to every
partition's model instances at once (between batches); it snapshots the learned state
of the live and shadow model of each partition, signed, and restores it when a
partition is assigned — so what a model learned survives restarts and moves with its
partition. A ``policy`` command is handed to :attr:`ModelManager.on_policy` (the detector
and the correlator swap their policy), at the same moment between two batches.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Callable

import structlog

from models import REGISTRY, ModelSpec, Scorer
from models import snapshot as snap
from stream.core.control import Command, ControlRefused, ModelSlots, verify
from stream.core.partition_detector import PartitionDetector
from stream.core.policy import Policy
from stream.kafka.writer import Message
from stream.settings import Settings

log = structlog.get_logger(__name__)

#: a snapshot larger than this is not written (Kafka's default message limit is 1 MiB)
MAX_SNAPSHOT_BYTES = 1_000_000


class ModelManager:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.slots = ModelSlots(REGISTRY.get(settings.model).spec(settings.model_params))
        self.control_key = (
            settings.control_key.get_secret_value().encode() if settings.control_key else None
        )
        if settings.snapshot_key is None:
            raise ValueError("SCRAPEGUARD_SNAPSHOT_KEY is required to run a detector")
        self.snapshot_key = settings.snapshot_key.get_secret_value().encode()
        self.pending: deque[Command | ControlRefused] = deque()
        self.stats: Counter[str] = Counter()
        self.last_snapshot = time.monotonic()
        # called with each policy deployed through the control log, between batches
        self.on_policy: list[Callable[[Policy], None]] = []

    # -- control -----------------------------------------------------------------------
    def receive(self, raw: bytes | None, appended_at: float | None = None) -> None:
        """A control message arrived: verify now, apply (or record its refusal) between
        batches, in the order of the log — so that every worker folds it alike."""
        try:
            self.pending.append(
                verify(
                    raw,
                    self.control_key,
                    appended_at=appended_at,
                    window_s=self.settings.control_window_s,
                )
            )
        except ControlRefused as exc:
            self.pending.append(exc)

    def _refused(self, exc: ControlRefused) -> None:
        self.stats[f"control_refused_{exc.reason}"] += 1
        a = exc.authentic
        log.warning(
            "control_refused",
            reason=exc.reason,
            detail=exc.detail,
            id=a.id if a else None,
            issuer=a.issuer if a else None,
            seq=a.seq if a else None,
        )

    def apply_pending(self, partitions: dict[int, PartitionDetector]) -> None:
        while self.pending:
            cmd = self.pending.popleft()
            if isinstance(cmd, ControlRefused):
                self.slots.record_refused(cmd)  # remembered: a later copy is refused too
                self._refused(cmd)
                continue
            try:
                what = self.slots.apply(cmd)
            except ControlRefused as exc:
                self._refused(exc)
                continue
            if cmd.op == "policy":
                assert cmd.policy is not None
                for use in self.on_policy:
                    use(cmd.policy)
            else:
                for p, det in partitions.items():
                    try:
                        self._carry_over(cmd, p, det)
                    except Exception as exc:  # never a crash loop on a message the log replays
                        self.stats["control_carry_over_failed"] += 1
                        log.error(
                            "control_carry_over_failed", op=cmd.op, partition=p, error=repr(exc)
                        )
            self.stats[f"control_applied_{cmd.op}"] += 1
            log.info(
                "control_applied",
                op=cmd.op,
                what=what,
                issuer=cmd.issuer,
                id=cmd.id,
                policy=self.slots.policy_sha[:12] or "file",
                **self.labels(),
            )

    def _carry_over(self, cmd: Command, partition: int, det: PartitionDetector) -> None:
        slots = self.slots
        if cmd.op == "deploy" and cmd.slot == "live":
            det.history.append((det.model, det.model_label))
            det.model, det.model_label = self.fresh(slots.live), slots.live.label()
        elif cmd.op == "deploy":
            assert slots.shadow is not None
            det.shadow, det.shadow_label = self.fresh(slots.shadow), slots.shadow.label()
            det.shadow_flags.clear()
        elif cmd.op == "promote":
            assert det.shadow is not None
            det.history.append((det.model, det.model_label))
            det.model, det.model_label = det.shadow, det.shadow_label
            det.shadow, det.shadow_label = None, ""
            det.shadow_flags.clear()
        elif cmd.op == "rollback":
            if det.history and det.history[-1][1] == slots.live.label():
                det.model, det.model_label = det.history.pop()  # with what it had learned
            else:  # the partition arrived after that model was live here
                det.model, det.model_label = self.fresh(slots.live), slots.live.label()
        else:  # retire_shadow
            det.shadow, det.shadow_label = None, ""
            det.shadow_flags.clear()
        del det.history[:-20]

    # -- instances and snapshots -----------------------------------------------------------
    @staticmethod
    def fresh(spec: ModelSpec) -> Scorer:
        return REGISTRY.build(spec)

    def restore(self, partition: int, blobs: dict[str, bytes], det: PartitionDetector) -> None:
        """Install the live (and shadow) model for a newly assigned partition."""
        det.model, det.model_label = self._restored("live", self.slots.live, partition, blobs)
        if self.slots.shadow is not None:
            det.shadow, det.shadow_label = self._restored(
                "shadow", self.slots.shadow, partition, blobs
            )

    def _restored(
        self, slot: str, spec: ModelSpec, partition: int, blobs: dict[str, bytes]
    ) -> tuple[Scorer, str]:
        blob = blobs.get(f"{slot}:{partition}")
        if blob is None:
            return self.fresh(spec), spec.label()
        try:
            model = snap.load(
                blob,
                self.snapshot_key,
                spec,
                partition,
                slot=slot,
                generation=self.slots.generation(slot),
            )
        except Exception as exc:  # SnapshotRefused, or any bug: never stop a partition here
            self.stats["snapshot_refused"] += 1
            log.warning(
                "snapshot_refused",
                slot=slot,
                partition=partition,
                reason=str(exc),
                model=spec.label(),
                action="starting the model fresh",
            )
            return self.fresh(spec), spec.label()
        self.stats["snapshot_restored"] += 1
        log.info("snapshot_restored", slot=slot, partition=partition, model=spec.label())
        return model, spec.label()

    def snapshots(self, partitions: dict[int, PartitionDetector]) -> list[Message]:
        """Signed snapshots of every live and shadow model, for the snapshot topic."""
        out: list[Message] = []
        topic, now = self.settings.snapshot_topic, time.time()
        for p, det in partitions.items():
            wanted: list[tuple[str, Scorer, ModelSpec]] = [("live", det.model, self.slots.live)]
            if det.shadow is not None and self.slots.shadow is not None:
                wanted.append(("shadow", det.shadow, self.slots.shadow))
            for slot, model, spec in wanted:
                try:
                    generation = self.slots.generation(slot)
                    blob = snap.dump(model, spec, p, self.snapshot_key, slot, now, generation)
                except Exception as exc:  # a model that cannot say what it learned
                    self.stats["snapshot_failed"] += 1
                    log.warning("snapshot_failed", slot=slot, partition=p, error=repr(exc))
                    continue
                if len(blob) > MAX_SNAPSHOT_BYTES:
                    self.stats["snapshot_too_large"] += 1
                    log.warning(
                        "snapshot_too_large",
                        slot=slot,
                        partition=p,
                        bytes=len(blob),
                        limit=MAX_SNAPSHOT_BYTES,
                        action="not written: the model starts fresh after a restart",
                    )
                    continue
                out.append((topic, f"{slot}:{p}".encode(), blob, p))
        self.last_snapshot = time.monotonic()
        self.stats["snapshots_written"] += len(out)
        return out

    def snapshot_due(self) -> bool:
        return time.monotonic() - self.last_snapshot >= self.settings.snapshot_every_s

    def labels(self) -> dict[str, str | None]:
        return {
            "live": self.slots.live.label(),
            "shadow": self.slots.shadow.label() if self.slots.shadow else None,
        }
