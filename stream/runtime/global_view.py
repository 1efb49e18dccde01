"""What every worker knows about the whole deployment, from topics it reads entirely.

* all decisions → :class:`~stream.core.decision_store.DecisionStore` (any worker answers for
  any actor), plus per-minute counts and top reasons for the dashboard, and the decisions
  in force indexed for enforcement (:class:`~stream.core.decision_index.DecisionIndex`:
  ``/check`` and the bouncer stream);
* bouncer keys (hashed) → :class:`~stream.core.bouncer_keys.BouncerRegistry`;
* all incidents → the latest version of each;
* the members topic → which worker (URL) owns which detector partition, so that a
  request about an actor's live window state is routed to its owner (member records
  are signed with a key derived from the control key; others are dropped and counted);
* the control log → handed to the detector's model lifecycle (``on_control``), which
  applies every verified message between two batches.

One reader follows the five topics (:class:`~stream.kafka.read_to_end.TopicReader`);
:attr:`GlobalView.caught_up` is set once it has read each of them to its true end.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from typing import Any

import structlog
from mode import Service

from stream.core.bouncer_keys import BouncerRegistry
from stream.core.control import appended_at
from stream.core.decision_index import DecisionIndex
from stream.core.decision_store import DecisionStore
from stream.core.internal_records import Member, decode_incident
from stream.core.operator_records import BouncerKey
from stream.core.peers import member_key, member_ok, sign_member
from stream.core.records import Decision
from stream.kafka.read_to_end import TopicReader
from stream.kafka.writer import WriterService
from stream.runtime.metrics import reason_code
from stream.settings import Settings

log = structlog.get_logger(__name__)

MINUTES = 60
MEMBER_TTL_S = 30.0
PURGE_EVERY_S = 60.0
MAX_MEMBERS = 1000  # workers remembered; those silent longest go first
MAX_INCIDENTS = 20_000  # incidents remembered; closed ones, then the least recent, go first
MAX_REASON_CODES = 500  # distinct reason codes counted for the dashboard


class GlobalView(Service):
    def __init__(
        self,
        settings: Settings,
        writer: WriterService,
        owned: Callable[[], set[int]],
        on_control: Callable[[bytes | None, float | None], None],
        **kwargs: Any,
    ) -> None:
        self.settings = settings
        self.writer = writer
        self.owned = owned  # () -> set of detector partitions this worker owns
        self.store = DecisionStore()
        self.index = DecisionIndex()
        self.bouncers = BouncerRegistry()
        self.manual_recent: deque[Decision] = deque(maxlen=50)  # for the dashboard
        self._changed = asyncio.Event()  # set (and replaced) when the index changes
        self.incidents: dict[str, dict[str, Any]] = {}
        self.members: dict[str, Member] = {}
        self.stats: Counter[str] = Counter()
        key = settings.control_key
        self.member_key = member_key(key.get_secret_value().encode()) if key else None
        self.worker_id = f"{socket.gethostname()}-{uuid.uuid4().hex[:8]}"
        self.url = settings.advertised_url or f"http://{settings.web_host}:{settings.web_port}"
        self.per_minute: deque[tuple[int, Counter[str]]] = deque(maxlen=MINUTES)
        self.reasons: Counter[str] = Counter()
        s = settings
        self.reader = TopicReader(
            s,
            {
                s.topic_control: lambda rec: on_control(rec.value, appended_at(rec)),
                s.topic_decisions: self._on_decision,
                s.topic_incidents: self._on_incident,
                s.members_topic: self._on_member,
                s.bouncers_topic: self._on_bouncer,
            },
        )
        super().__init__(**kwargs)

    @property
    def caught_up(self) -> asyncio.Event:
        return self.reader.caught_up

    @property
    def ready(self) -> bool:
        return self.reader.caught_up.is_set()

    async def on_start(self) -> None:
        await self.writer.maybe_start()
        await self.reader.start()

    async def on_stop(self) -> None:
        await self.reader.stop()

    @Service.task
    async def _follow(self) -> None:
        read = await self.reader.read_to_end()
        log.info("global_view_caught_up", records=read)
        await self.reader.follow()

    @Service.timer(5.0)
    async def _announce(self) -> None:
        if self.member_key is None:
            return  # without the control key no other worker would believe us
        me = sign_member(
            Member(self.worker_id, self.url, time.time(), sorted(self.owned())), self.member_key
        )
        await self.writer.writer.write(
            [(self.settings.members_topic, self.worker_id.encode(), me.encode(), None)]
        )

    @Service.timer(PURGE_EVERY_S)
    async def _purge(self) -> None:
        if self.index.purge(time.time()):
            self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for_change(self, version: int, timeout_s: float) -> None:
        """Until the decisions in force change from ``version``, or ``timeout_s``."""
        if self.index.version != version or timeout_s <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)

    def _tenants_unchecked(self) -> None:
        """Decisions name tenants, but /check reads none: say so once (an upgrade from when
        /check read X-Tenant-Id by default leaves a multi-tenant platform unenforced)."""
        if self.stats["tenant_decisions_unchecked"] == 0:
            log.warning(
                "tenant_decisions_unchecked",
                detail="decisions name tenants but SCRAPEGUARD_CHECK_TENANT_HEADER is not set: "
                "/check finds none of their accounts and sessions (set it to a header your "
                "gateway sets itself; docs/enforcement.md)",
            )
        self.stats["tenant_decisions_unchecked"] += 1

    # -- feeds -------------------------------------------------------------------------
    def _on_decision(self, rec: Any) -> None:
        d = Decision.decode(rec.value)
        self.store.add(d)
        tenanted = self.index.tenanted
        if self.index.add(d):
            self._notify()
            if self.index.tenanted > tenanted and not self.settings.check_tenant_header:
                self._tenants_unchecked()
        if d.shadow:
            return
        if d.origin == "manual":
            self.manual_recent.appendleft(d)
        minute = int(time.time() // 60)
        if not self.per_minute or self.per_minute[-1][0] != minute:
            self.per_minute.append((minute, Counter()))
        self.per_minute[-1][1][d.action] += 1
        for r in d.reasons:
            if r != "renewal":
                code = reason_code(r)
                if code in self.reasons or len(self.reasons) < MAX_REASON_CODES:
                    self.reasons[code] += 1
                else:
                    self.stats["evicted_reason_code"] += 1

    def _on_incident(self, rec: Any) -> None:
        inc = decode_incident(rec.value)
        old = self.incidents.get(inc["incident_id"])
        if old is None or inc.get("version", 0) >= old.get("version", 0):
            self.incidents[inc["incident_id"]] = inc
        if len(self.incidents) > MAX_INCIDENTS:
            self._forget_incidents()

    def _forget_incidents(self) -> None:
        """Keep the newest :data:`MAX_INCIDENTS`, dropping closed ones before open ones
        (the topic keeps them all; ``scrapeguard incidents`` reads it)."""
        excess = len(self.incidents) - MAX_INCIDENTS + MAX_INCIDENTS // 10  # room to grow
        order = sorted(
            self.incidents.values(),
            key=lambda i: (i.get("status") == "open", i.get("last_activity_at", 0.0)),
        )
        for inc in order[:excess]:
            del self.incidents[inc["incident_id"]]
        self.stats["evicted_incident"] += excess

    def _on_bouncer(self, rec: Any) -> None:
        name = rec.key.decode() if rec.key else ""
        self.bouncers.put(name, BouncerKey.decode(rec.value) if rec.value is not None else None)

    def _on_member(self, rec: Any) -> None:
        if rec.value is None:
            return
        m = Member.decode(rec.value)
        if self.member_key is None or not member_ok(m, self.member_key):
            self.stats["members_refused"] += 1
            log.warning("member_refused", worker=m.worker[:80], reason="not signed by a worker")
            return
        self.members.pop(m.worker, None)
        self.members[m.worker] = m  # most recently heard from last
        while len(self.members) > MAX_MEMBERS:
            del self.members[next(iter(self.members))]
            self.stats["evicted_member"] += 1

    # -- queries -----------------------------------------------------------------------
    def owner_url(self, partition: int) -> str | None:
        now = time.time()
        best: Member | None = None
        for m in self.members.values():
            if m.worker == self.worker_id or now - m.ts > MEMBER_TTL_S:
                continue
            if partition in m.partitions and (best is None or m.ts > best.ts):
                best = m
        return best.url if best else None

    def open_incidents(self) -> list[dict[str, Any]]:
        return sorted(
            (i for i in self.incidents.values() if i["status"] == "open"),
            key=lambda i: i["last_activity_at"],
            reverse=True,
        )

    def timeline(self) -> list[dict[str, Any]]:
        now = int(time.time() // 60)
        counts = dict(self.per_minute)
        return [
            {
                "minute": (now - k) * 60,
                **{
                    a: counts.get(now - k, Counter()).get(a, 0)
                    for a in ("allow", "challenge", "block")
                },
            }
            for k in range(MINUTES - 1, -1, -1)
        ]
