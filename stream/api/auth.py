"""Who calls the enforcement routes (``/check``, ``/v1/decisions/stream``).

A bouncer sends its key in ``X-Api-Key`` (``scrapeguard bouncers add``); the API token
(``Authorization: Bearer``, or in ``X-Api-Key``) is accepted too. A key that is given and
wrong is refused (403), always. Sent nothing: refused as soon as an API token or a bouncer
key exists; a worker with neither (development, ``make run``) answers anyone, like the
rest of its API.
"""

from __future__ import annotations

import hmac
from typing import Any

from stream.api.query import WorkerQuery
from stream.settings import Settings

API_TOKEN_CALLER = "api-token"
ANONYMOUS = "anonymous"


def same_secret(given: str, secret: str) -> bool:
    """``given`` (from a request) is ``secret``, compared in constant time. A header's bytes
    that are not UTF-8 reach aiohttp's handlers as lone surrogates: compared, never raised."""
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), secret.encode())


def _is_token(settings: Settings, given: str) -> bool:
    token = settings.api_token
    return token is not None and same_secret(given, token.get_secret_value())


def enforcement_caller(settings: Settings, query: WorkerQuery, headers: Any) -> str | None:
    """The caller's name (a bouncer's, :data:`API_TOKEN_CALLER` or :data:`ANONYMOUS`), or
    None when it must be refused."""
    key = headers.get("X-Api-Key")
    if key:
        name = query.bouncer(key)
        if name is not None:
            return name
        return API_TOKEN_CALLER if _is_token(settings, key) else None
    auth = headers.get("Authorization", "")
    if auth.startswith("Bearer "):
        return API_TOKEN_CALLER if _is_token(settings, auth[7:]) else None
    if settings.api_token is None and not query.has_bouncers():
        return ANONYMOUS
    return None
