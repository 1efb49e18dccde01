"""What a request is, from its path and method and, where the producer sends it, the
browser's Sec-Fetch-Dest."""

import pytest

from stream.core.request_kind import API, ASSET, PAGE, PROFILE, ROBOTS, request_kind


@pytest.mark.parametrize(
    ("method", "path", "profile", "dest", "kind"),
    [
        # without the header (None: not sent by the producer; "": the request had none)
        ("GET", "/search", False, None, PAGE),
        ("GET", "/api/feed", False, None, PAGE),  # a GET of JSON reads as a page
        ("GET", "/api/feed", False, "", PAGE),
        ("GET", "/static/app.js", False, None, ASSET),
        ("POST", "/api/like", False, None, API),
        ("GET", "/robots.txt", False, None, ROBOTS),
        ("GET", "/profiles/{id}", True, None, PROFILE),
        # with it
        ("GET", "/api/feed", False, "empty", API),  # a single-page app's call
        ("GET", "/search", False, "document", PAGE),  # a navigation
        ("GET", "/embed/map", False, "iframe", PAGE),
        ("GET", "/avatar/7", False, "image", ASSET),  # a page's own load, by any name
        ("GET", "/bundle", False, "script", ASSET),
        ("GET", "/api/feed", False, "no-such-destination", PAGE),  # unknown: as without
        # the header is the client's to write: it moves a request between page, call and
        # asset, never a profile view out of sight (the personal data left either way)
        ("GET", "/profiles/{id}", True, "empty", PROFILE),
        ("GET", "/profiles/{id}", True, "image", PROFILE),
        ("POST", "/search", False, "document", API),  # a form sent: as without
        ("GET", "/robots.txt", False, "empty", ROBOTS),
    ],
)
def test_kind(method: str, path: str, profile: bool, dest: str | None, kind: int) -> None:
    assert request_kind(method, path, profile, dest) == kind
