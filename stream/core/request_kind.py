"""What a request is: a page, a profile view, a static asset, ``robots.txt`` or an API
call (:func:`request_kind`, from the path, the method and, where the producer sends it,
the browser's ``Sec-Fetch-Dest``), and the page a referrer names (:func:`referrer_path`), so
that it matches the page the actor fetched (:func:`concrete_path`).

Read by :mod:`stream.core.behaviour` (how an actor browses) and the detector, once per
request.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import urlsplit

# request kinds
PAGE, PROFILE, ASSET, ROBOTS, API = 0, 1, 2, 3, 4

STATIC_EXTENSIONS: Final = frozenset(
    {
        *("css", "js", "mjs", "map", "png", "jpg", "jpeg", "gif", "svg", "ico", "webp"),
        *("avif", "bmp", "tif", "tiff", "woff", "woff2", "ttf", "otf", "eot"),
        *("mp4", "webm", "mp3", "ogg", "wav", "m4a", "mov"),
    }
)
STATIC_PREFIXES: Final = (
    "/static/",
    "/assets/",
    "/images/",
    "/img/",
    "/css/",
    "/js/",
    "/fonts/",
)


# Sec-Fetch-Dest values (Fetch standard, "destination") of what a page loads for itself:
# its images, scripts, styles, fonts, media, workers. "empty" is a script's fetch or
# XMLHttpRequest: a call, not a page a reader turns to, however it is named. A navigation
# ("document", "iframe", "frame"), no header ("") or a value not known here reads from the
# path and the method alone, as without the header.
ASSET_DESTS: Final = frozenset(
    {
        *("image", "script", "style", "font", "audio", "video", "track", "manifest"),
        *("worker", "sharedworker", "serviceworker", "audioworklet", "paintworklet"),
        *("xslt", "embed", "object", "report", "json", "webidentity"),
    }
)
CALL_DEST: Final = "empty"


def _extension(path: str) -> str:
    last = path.rpartition("/")[2]
    dot = last.rfind(".")
    return last[dot + 1 :].lower() if dot > 0 else ""


def request_kind(
    method: str, path: str, is_profile_view: bool, fetch_dest: str | None = None
) -> int:
    """A profile view, a static asset, ``robots.txt``, an API call, or a page.

    ``fetch_dest`` (the request's ``Sec-Fetch-Dest``, where the producer sends it) tells
    a page's own loads from pages: a single-page app's GET of JSON is a call, an avatar
    at ``/avatar/7`` an asset. A profile view stays one whatever fetched it: the personal
    data left either way."""
    if is_profile_view:
        return PROFILE
    if path == "/robots.txt":
        return ROBOTS
    if _extension(path) in STATIC_EXTENSIONS or path.startswith(STATIC_PREFIXES):
        return ASSET
    if method not in ("GET", "HEAD"):
        return API
    if fetch_dest:
        if fetch_dest == CALL_DEST:
            return API
        if fetch_dest in ASSET_DESTS:
            return ASSET
    return PAGE


def concrete_path(path: str, target: str | None) -> str:
    """``/profiles/{id}`` with the profile id in place of the template, as a referrer
    would name the page."""
    if target is None or "{" not in path:
        return path
    head, _, rest = path.partition("{")
    return head + target + rest.partition("}")[2]


def referrer_path(referrer: str) -> str:
    """The page a referrer names as a request path would: path and query, without scheme,
    host or fragment (hosts say nothing about the actor and can leak how a test set was
    recorded), so that it matches the hash of the page the actor fetched."""
    if referrer.startswith("/"):
        return referrer.split("#", 1)[0]
    try:
        url = urlsplit(referrer)
    except ValueError:
        return ""
    return (url.path or "/") + ("?" + url.query if url.query else "")
