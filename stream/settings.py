"""The one settings object, built at the edge (CLI) from ``SCRAPEGUARD_*`` variables.

Nothing else in the code base reads the environment: the CLI builds a :class:`Settings`
with :func:`stream.settings_sources.load_settings` — command-line options over the
environment over an optional settings file (``--settings FILE`` /
``SCRAPEGUARD_SETTINGS_FILE``: TOML with the settings' names as keys, or a ``.env`` file
of ``SCRAPEGUARD_*`` lines) over the defaults — and passes it down. An empty value means
unset, wherever it comes from.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_BROKER = "kafka://127.0.0.1:9092"


class Settings(BaseSettings):
    """Every knob of scrapeguard. ``deploy/scrapeguard.env.example`` documents each one."""

    model_config = SettingsConfigDict(
        env_prefix="SCRAPEGUARD_", extra="ignore", env_ignore_empty=True
    )

    # --- Kafka -------------------------------------------------------------------------
    broker: str = Field(
        DEFAULT_BROKER,
        description="Kafka bootstrap servers as kafka://host:port[,host:port]. "
        "The default starts the embedded broker for `scrapeguard run` when nothing listens.",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    ssl_keyfile_password: SecretStr | None = None

    # --- topics ------------------------------------------------------------------------
    app_id: str = Field("scrapeguard", description="Consumer group and internal topic prefix.")
    topic_requests: str = "requests"
    topic_decisions: str = "decisions"
    topic_deadletter: str = "deadletter"
    topic_control: str = Field("control", description="Signed model-lifecycle messages.")
    topic_incidents: str = Field("incidents", description="Incidents as they open, grow, close.")
    partitions: int = Field(8, ge=1, le=1024)
    replication_factor: int = Field(1, ge=1)
    connect_timeout_s: float = Field(
        30.0, gt=0, description="How long commands wait for the broker before giving up."
    )

    # --- processing --------------------------------------------------------------------
    batch_max_records: int = Field(5000, ge=1, description="Largest micro-batch a worker takes.")
    pack_internal_records: bool = Field(
        True,
        description="Send the detector's records to the correlator and the incidents agent "
        "packed, one record per partition and batch (stream/kafka/packs.py). Workers before "
        "packs cannot read them: set false while rolling over from such a version, true once "
        "every worker reads packs (docs/deploy.md).",
    )
    batch_wait_ms: int = Field(
        10, ge=0, description="How long a fetch waits for records (latency vs batch size)."
    )
    gil_switch_interval_ms: float = Field(
        50.0,
        ge=1.0,
        le=1000.0,
        description="How long a worker thread keeps the GIL before Python makes it hand over "
        "(sys.setswitchinterval; Python's own is 5 ms). The batch runs in a thread beside the "
        "event loop: at 5 ms the two hand the GIL back and forth mid-batch, which measured "
        "~10-14 % fewer events/s and a worse p99 for decisions (docs/performance.md).",
    )
    gc_young_threshold: int = Field(
        50_000,
        ge=700,
        le=200_000,
        description="Net allocations of container objects between two collections of the "
        "worker's youngest garbage generation (gc.set_threshold(N, 20, 20); Python's own is "
        "700, 10, 10). The pipeline makes no cyclic garbage, so collecting less often mostly "
        "saves walking live objects: measured 24-32 % more events/s, at 56-74 MB more peak "
        "memory under the bench's load (docs/performance.md, measured on Python 3.11).",
    )
    group_session_timeout_s: float = Field(
        6.0,
        ge=1.0,
        le=300.0,
        description="Consumer-group session of the worker's two groups (the detector's and "
        "Faust's): a killed worker's partitions move once it has passed. Heartbeats go every "
        "sixth of it. Apache Kafka refuses sessions under its group.min.session.timeout.ms "
        "(6 s by default); the embedded broker takes shorter ones.",
    )
    max_event_bytes: int = Field(64 * 1024, ge=256)
    max_future_skew_s: float = Field(
        300.0,
        ge=0,
        description="Events stamped further than this past the wall clock are dead-lettered "
        "(ts_in_future): one event dated hours ahead would move its actor's windows past "
        "the actor's real traffic.",
    )
    actor_idle_ttl_s: float = Field(
        2 * 86400.0,
        description="Per-actor state is dropped after this much event time without events.",
    )
    hot_actors_per_partition: int = Field(
        5120,
        ge=1,
        description="Actors per partition kept decoded (~1.8 KB each; at most half of them "
        "new actors, not yet seen in an earlier batch); the least recently "
        "active beyond this are kept compressed (~0.4 KB each) until their next event. "
        "5,120 keeps a worker of 8 partitions under 1 KB an actor at 100k actors even when "
        "all come back while decoded (965 B; 1,309 B at 8,192), at a few per cent of CPU "
        "(docs/performance.md).",
    )
    labels_per_partition_per_hour: int = Field(
        600,
        ge=0,
        description="Labels (outcomes) the models of one partition learn per hour, at most; "
        "beyond it a label sets the actor's verdict only (counted as over_budget). Bounds "
        "what a flood of labels can teach.",
    )
    max_actors_per_partition: int = Field(
        250_000,
        ge=1,
        description="Actors per partition in all: beyond it the least recently active are "
        'evicted (counted in scrapeguard_state_evictions_total{kind="actor"}); bounds memory '
        "against made-up identities (~0.3 KB each when compressed).",
    )
    policy_file: Path | None = Field(
        None, description="Policy TOML; the packaged default policy when unset."
    )
    model: str = Field("ensemble", description="Name of the live model in the model registry.")
    model_params: dict[str, Any] = Field(default_factory=dict)

    control_key: SecretStr | None = Field(
        None,
        description="HMAC key that signs control messages (model deploy/promote/rollback); "
        "keys derived from it sign member records, manual decisions and worker-to-worker "
        "requests. Required by workers (at least 32 bytes); the CLI needs it to send control "
        "messages and manual decisions.",
    )
    control_window_s: float = Field(
        600.0,
        gt=0,
        description="A control message (a manual decision) is applied only if it was "
        "appended to its topic within this many seconds of its issued_at (its ts).",
    )
    snapshot_key: SecretStr | None = Field(
        None,
        description="HMAC key that signs model snapshots; a snapshot signed otherwise is "
        "refused and the model starts fresh. Required by workers (at least 32 bytes).",
    )
    snapshot_every_s: float = Field(60.0, gt=0, description="How often models are snapshotted.")

    # --- incidents ------
    ledger_key: SecretStr | None = Field(
        None,
        description="Key (a Fernet key's format) that seals profile ids in the affected-people "
        "ledger (AES-SIV), so that "
        "its holder can map pseudonyms back (`scrapeguard incidents new-key` makes one). "
        "Required by workers.",
    )
    ledger_watch_profiles_per_hour: int = Field(
        50,
        ge=1,
        description="Profile views of an actor above this rate go to the ledger "
        "(flagged actors' views always do).",
    )
    incident_quiet_s: float = Field(
        3600.0,
        gt=0,
        description="An incident closes after this "
        "much event time without a new decision or access.",
    )

    # --- privacy -----------------------------------------------------------------------
    pseudonym_key: SecretStr | None = Field(
        None,
        description="HMAC key for pseudonyms of people's identifiers in logs and reports "
        "(one key per kind of identifier is derived from it). Required by workers "
        "(at least 32 bytes).",
    )
    log_raw_identifiers: bool = Field(
        False, description="Log raw account ids/IPs/profile ids (debugging only)."
    )

    # --- worker ------------------------------------------------------------------------
    web_port: int = Field(6066, ge=0, le=65535)
    web_host: str = "127.0.0.1"
    advertised_url: str | None = Field(
        None,
        description="How other workers reach this one's HTTP API "
        "(default http://web_host:web_port); used to route explain requests.",
    )
    api_token: SecretStr | None = Field(
        None,
        description="When set, the HTTP API requires 'Authorization: Bearer <token>' (the "
        "dashboard signs in with a form and a cookie); /health and /metrics stay open for "
        "probes and scrapers. Required when web_host is not the loopback interface.",
    )

    # --- enforcement (GET /check, the bouncer stream) ------------------------------------
    check_account_header: str = Field(
        "X-Account-Id", description="Request header /check reads the account id from."
    )
    check_session_header: str = Field(
        "X-Session-Id", description="Request header /check reads the session id from."
    )
    check_tenant_header: str = Field(
        "",
        description="Request header /check reads the tenant from; empty (the default): "
        "/check reads no tenant. Set it only on a multi-tenant platform whose gateway sets "
        "this header itself: a tenant named by the client would look its decisions up "
        "among another tenant's.",
    )
    check_ip_headers: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["X-Forwarded-For", "X-Real-IP"],
        description="Headers with the client address, first present wins (comma-separated; "
        "every line of a header is read); believed only when the request comes from a "
        "trusted proxy, which must set or append to the first of them that a client could "
        "send: a proxy that sets only X-Real-IP passes the client's own X-Forwarded-For on.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1/32", "::1/128"],
        description="Addresses (CIDR, comma-separated) of the gateways whose address "
        "headers /check believes; X-Forwarded-For is read right to left past them.",
    )
    check_when_not_ready: Literal["open", "closed"] = Field(
        "open",
        description="What /check answers before the worker has read the decisions to their "
        "end: open = 200 allow, closed = 503 (every gateway then denies).",
    )
    decisions_retention_s: float = Field(
        7 * 86400.0,
        gt=3600,
        description="retention.ms of a decisions topic scrapeguard creates; the longest "
        "manual decision TTL (enforcement bootstraps its cache from this topic).",
    )
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"
    data_dir: Path = Path(".scrapeguard")

    @field_validator("broker")
    @classmethod
    def _check_broker(cls, value: str) -> str:
        bootstrap_servers(value)  # raises ValueError with a readable message
        return value

    @field_validator("check_ip_headers", "trusted_proxies", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for net in value:
            ipaddress.ip_network(net, strict=False)  # ValueError names the bad one
        return value

    @property
    def bootstrap(self) -> list[str]:
        return bootstrap_servers(self.broker)

    @property
    def is_default_broker(self) -> bool:
        return self.broker == DEFAULT_BROKER

    @property
    def state_topic(self) -> str:
        return f"{self.app_id}-actor-state-changelog"

    @property
    def detector_group(self) -> str:
        return f"{self.app_id}-detector"

    @property
    def snapshot_topic(self) -> str:
        """Learned model state per slot and partition (compacted, co-partitioned)."""
        return f"{self.app_id}-model-snapshots"

    @property
    def incident_feed_topic(self) -> str:
        """Detector → incidents agent: decisions and watched accesses, keyed by incident key."""
        return f"{self.app_id}-incident-feed"

    @property
    def incident_state_topic(self) -> str:
        return f"{self.app_id}-incident-state-changelog"

    @property
    def ledger_topic(self) -> str:
        """Affected people per incident: profile pseudonyms (and sealed ids), key = incident."""
        return f"{self.app_id}-ledger"

    @property
    def members_topic(self) -> str:
        """Which worker (URL) owns which detector partitions; compacted, key = worker."""
        return f"{self.app_id}-members"

    @property
    def incidents_group(self) -> str:
        return f"{self.app_id}-incidents"

    @property
    def correlator_group(self) -> str:
        return f"{self.app_id}-correlator"

    @property
    def activity_topic(self) -> str:
        """Detector → correlator: accounts seen per IP, keyed by subnet."""
        return f"{self.app_id}-ip-activity"

    @property
    def signals_topic(self) -> str:
        """Correlator → detector: group signals, keyed by account (co-partitioned)."""
        return f"{self.app_id}-group-signals"

    @property
    def group_state_topic(self) -> str:
        return f"{self.app_id}-group-state-changelog"

    @property
    def manual_topic(self) -> str:
        """Operators' decisions (CLI → detector), keyed by actor (co-partitioned); the
        audit trail of manual decisions."""
        return f"{self.app_id}-manual-decisions"

    @property
    def outcomes_topic(self) -> str:
        """What became of actors (challenge results, verdicts, appeals): the labels the
        models learn from (enforcement and ``scrapeguard label`` → detector), keyed by
        actor (co-partitioned); see :mod:`stream.core.outcomes`."""
        return f"{self.app_id}-outcomes"

    @property
    def bouncers_topic(self) -> str:
        """Bouncer API keys, hashed; compacted, key = bouncer name."""
        return f"{self.app_id}-bouncers"

    @property
    def scores_topic(self) -> str:
        """Every model score the detector computed (actor, score, event time, model)."""
        return f"{self.app_id}-scores"


def bootstrap_servers(url: str) -> list[str]:
    """``kafka://h1:9092,h2:9092`` (or ``;``-separated, or bare ``host:port``) → hosts."""
    servers: list[str] = []
    for part in url.replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        if "://" not in part:
            part = "kafka://" + part
        parsed = urlsplit(part)
        if parsed.scheme not in ("kafka", "tcp", ""):
            raise ValueError(f"broker URL scheme must be kafka://, got {parsed.scheme!r}")
        if not parsed.hostname:
            raise ValueError(f"broker URL {url!r} has no host")
        try:
            port = parsed.port or 9092
        except ValueError as exc:
            raise ValueError(f"broker URL {url!r} has an invalid port") from exc
        servers.append(f"{parsed.hostname}:{port}")
    if not servers:
        raise ValueError("broker URL is empty")
    return servers
