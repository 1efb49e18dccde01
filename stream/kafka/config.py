"""Connection settings for every Kafka client scrapeguard creates.

One place turns :class:`Settings` into keyword arguments for aiokafka (the worker's
consumers and producers), kafka-python (admin and CLI tools) and Faust, so SASL and
TLS reach all of them the same way. Secrets stay ``SecretStr`` until this point.
"""

from __future__ import annotations

import ssl
from typing import Any

from stream.settings import Settings


def _ssl_context(settings: Settings) -> ssl.SSLContext | None:
    if settings.security_protocol not in ("SSL", "SASL_SSL"):
        return None
    from aiokafka.helpers import create_ssl_context

    password = settings.ssl_keyfile_password
    return create_ssl_context(
        cafile=str(settings.ssl_cafile) if settings.ssl_cafile else None,
        certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
        keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None,
        password=password.get_secret_value() if password else None,
    )


def _sasl(settings: Settings) -> dict[str, Any]:
    if not settings.security_protocol.startswith("SASL"):
        return {}
    if not settings.sasl_mechanism:
        raise ValueError("SCRAPEGUARD_SASL_MECHANISM is required with a SASL security protocol")
    return {
        "sasl_mechanism": settings.sasl_mechanism,
        "sasl_plain_username": settings.sasl_username,
        "sasl_plain_password": (
            settings.sasl_password.get_secret_value() if settings.sasl_password else None
        ),
    }


def aiokafka_kwargs(settings: Settings) -> dict[str, Any]:
    """For ``AIOKafkaConsumer`` / ``AIOKafkaProducer``."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap,
        "security_protocol": settings.security_protocol,
        "client_id": settings.app_id,
    }
    ctx = _ssl_context(settings)
    if ctx is not None:
        kwargs["ssl_context"] = ctx
    kwargs.update(_sasl(settings))
    return kwargs


def kafka_python_kwargs(settings: Settings) -> dict[str, Any]:
    """For kafka-python's ``KafkaAdminClient``, ``KafkaProducer``, ``KafkaConsumer``."""
    kwargs: dict[str, Any] = {
        "bootstrap_servers": settings.bootstrap,
        "security_protocol": settings.security_protocol,
        "client_id": settings.app_id,
    }
    if settings.security_protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_cafile"] = str(settings.ssl_cafile) if settings.ssl_cafile else None
        kwargs["ssl_certfile"] = str(settings.ssl_certfile) if settings.ssl_certfile else None
        kwargs["ssl_keyfile"] = str(settings.ssl_keyfile) if settings.ssl_keyfile else None
        if settings.ssl_keyfile_password:
            kwargs["ssl_password"] = settings.ssl_keyfile_password.get_secret_value()
    kwargs.update(_sasl(settings))
    return kwargs


def faust_kwargs(settings: Settings) -> dict[str, Any]:
    """For ``faust.App`` (its own consumer and producer)."""
    import faust

    kwargs: dict[str, Any] = {"broker": "kafka://" + ";".join(settings.bootstrap)}
    ctx = _ssl_context(settings)
    sasl = _sasl(settings)
    if sasl:
        kwargs["broker_credentials"] = faust.SASLCredentials(
            username=sasl["sasl_plain_username"],
            password=sasl["sasl_plain_password"],
            mechanism=sasl["sasl_mechanism"],
            ssl_context=ctx,
        )
    elif ctx is not None:
        kwargs["broker_credentials"] = faust.SSLCredentials(ctx)
    return kwargs


def group_timing(settings: Settings) -> tuple[float, float]:
    """(session, heartbeat interval) in seconds for the worker's consumer groups.

    One heartbeat every sixth of the session: a member misses several before it is taken
    for dead. Heartbeats run on the event loop; the detector works its batches in a thread,
    so a long batch does not hold them up.
    """
    session_s = settings.group_session_timeout_s
    return session_s, round(session_s / 6, 3)
