"""The narrow interface through which the HTTP API reads a worker.

The views know nothing of the detector's internals: the runtime implements
:class:`WorkerQuery` (``stream.runtime.worker_query``) and hands it to
:func:`stream.api.views.install`. Tests can serve the API from any object with these
methods.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from stream.core.actor_state import ActorState
from stream.core.decision_index import Entry
from stream.core.decision_store import Page
from stream.core.policy import Policy
from stream.core.records import Decision


@dataclass
class ActorView:
    """What this worker holds about one actor (for ``/explain``)."""

    actor: str
    partition: int
    owned: bool  # this worker owns the actor's partition (and so its window state)
    state: ActorState | None
    policy: Policy
    history: list[Decision]
    model: str


class WorkerQuery(Protocol):
    @property
    def worker_id(self) -> str: ...

    async def health(self) -> dict[str, Any]:
        """Readiness and counters; ``ready``: both ready to serve and ready to process."""
        ...

    def serving(self) -> dict[str, Any]:
        """``ready``: the decision API answers (from memory; no broker needed)."""
        ...

    async def processing(self) -> dict[str, Any]:
        """``ready``: the broker answers and every agent holds its group assignment."""
        ...

    def actor(self, actor: str) -> ActorView: ...

    def owner_url(self, partition: int) -> str | None:
        """URL of the live worker that owns ``partition`` (None: this one, or none)."""
        ...

    def current_decision(self, actor: str, now: float) -> dict[str, Any] | None: ...

    def decisions(
        self,
        action: str | None,
        since: float | None,
        include_shadow: bool,
        limit: int,
        cursor: str | None,
    ) -> Page: ...

    def incidents(self, status: str) -> list[dict[str, Any]]: ...

    def incident(self, incident_id: str) -> dict[str, Any] | None: ...

    def summary(self) -> dict[str, Any]: ...

    def metrics(self) -> bytes: ...

    # -- enforcement (/check, the bouncer stream) ----------------------------------------
    @property
    def enforcement_ready(self) -> bool:
        """The decisions (and bouncer keys) have been read to their end."""
        ...

    def check(
        self,
        now: float,
        tenant: str | None,
        account: str | None,
        session: str | None,
        ip: str | None,
    ) -> Entry | None:
        """The strictest decision in force for these identities (None: none)."""
        ...

    def in_force(self, now: float) -> Iterable[Entry]:
        """Every challenge and block in force."""
        ...

    @property
    def decisions_version(self) -> int:
        """Changes with every change of the decisions in force."""
        ...

    async def wait_for_decisions(self, version: int, timeout_s: float) -> None:
        """Until :attr:`decisions_version` differs from ``version``, or ``timeout_s``."""
        ...

    def bouncer(self, key: str) -> str | None:
        """The name of the bouncer whose API key is ``key``."""
        ...

    def has_bouncers(self) -> bool: ...
