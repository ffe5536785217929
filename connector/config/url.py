"""``timeplus.url``: checked and normalised at start-up, and never quoted back.

A URL can carry a password (``https://admin:secret@host``) or a key in its query, so
no problem message repeats it: each says what is wrong and where to put credentials
instead. Whatever is accepted is a URL the HTTP client can build requests with, so a
bad one stops the connector at start-up rather than failing every request.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

_SCHEMES: Final = ("http", "https")
_SHOWN_SCHEME: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,15}")
_HOST: Final = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.?")
_IPV6: Final = re.compile(r"[0-9A-Fa-f:.]+")
EXPECTED: Final = "expected http(s)://host[:port][/path]"


def check_url(text: str) -> tuple[str | None, str | None]:
    """``(normalised url, None)``, or ``(None, problem)`` with a problem that never quotes ``text``.

    Surrounding whitespace is dropped (a value read from a file often ends in a
    newline); the scheme is lower-cased (``HTTPS://`` is a scheme like any other) and a
    trailing ``/`` removed.
    """
    url = text.strip()
    if "@" in url:
        return None, "credentials do not belong in the URL: use username/password"
    if any(c.isspace() or not c.isprintable() for c in url):
        return None, f"{EXPECTED}; this one holds whitespace or a control character"
    scheme, separator, rest = url.partition("://")
    if not separator:
        return None, f"{EXPECTED}; this one has no scheme"
    if scheme.lower() not in _SCHEMES:
        shown = f" {scheme.lower()!r}" if _SHOWN_SCHEME.fullmatch(scheme) else ""
        return None, f"{EXPECTED}; the scheme{shown} is neither http nor https"
    try:
        parts = urlsplit(f"{scheme.lower()}://{rest}")
        port = parts.port
    except ValueError:
        return None, f"{EXPECTED}; the host or port cannot be read (a port is a number from 1 to 65535)"
    if parts.query or parts.fragment or "?" in url or "#" in url:
        return None, "a base URL takes no query or fragment: Timeplus answers 404 to one, and credentials go in api_key"
    host = parts.hostname or ""
    if not host:
        return None, f"{EXPECTED}; the host is missing"
    bracketed = parts.netloc.startswith("[")
    if not (_IPV6.fullmatch(host) if bracketed else _HOST.fullmatch(host)):
        return None, f"{EXPECTED}; the host holds characters a host name cannot"
    if port is not None and port == 0:
        return None, f"{EXPECTED}; port 0 cannot be connected to"
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}", None
