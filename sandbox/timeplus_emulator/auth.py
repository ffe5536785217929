"""Who may talk to the emulator, checked the way each Timeplus server checks it.

Proton (``/proton``, ``/timeplusd`` and SQL on ``/``) follows
``RestHTTPRequestHandler::authenticateUser``: credentials come from
``x-timeplus-user``/``x-timeplus-key`` headers, else HTTP Basic, else ``?user=`` and
``?password=``, else the ``default`` user with an empty password. Mixing schemes, an
unsupported ``Authorization`` scheme or wrong credentials raise AUTHENTICATION_FAILED
(516). ``X-Api-Key`` means nothing to Proton and is ignored there.

The Enterprise/Cloud app server (``/{workspace}/api/...``) takes ``X-Api-Key: KEY`` or
``Authorization: ApiKey KEY`` (Cloud) or HTTP Basic (Enterprise).
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from . import codes
from .codes import AppServerError, ProtonError

AuthKind = Literal["none", "basic", "api_key", "timeplus_headers"]

# Headers whose values never reach the request journal.
SECRET_HEADERS = frozenset({"authorization", "x-api-key", "x-timeplus-key", "x-proton-key"})


@dataclass(frozen=True, slots=True)
class Auth:
    """The credentials one emulator run accepts."""

    kind: AuthKind = "none"
    user: str = "default"
    password: str = ""
    key: str | None = None

    @classmethod
    def none(cls) -> Auth:
        """Proton's out-of-the-box ``default`` user without password; app server open."""
        return cls("none")

    @classmethod
    def basic(cls, user: str, password: str) -> Auth:
        """One Proton user; HTTP Basic (or Proton's x-timeplus-* headers) must name it."""
        return cls("basic", user, password)

    @classmethod
    def api_key(cls, key: str) -> Auth:
        """Cloud: the app server wants this key; Proton keeps its password-less default user."""
        return cls("api_key", key=key)

    @classmethod
    def timeplus_headers(cls, user: str, key: str) -> Auth:
        """One Proton user, sent as ``x-timeplus-user``/``x-timeplus-key`` (Basic works too, as in Proton)."""
        return cls("timeplus_headers", user, key)

    @classmethod
    def parse(cls, text: str) -> Auth:
        """The CLI form: none | basic:USER:PASS | apikey:KEY | headers:USER:KEY."""
        kind, _, rest = text.partition(":")
        if kind == "none" and not rest:
            return cls.none()
        if kind == "apikey" and rest:
            return cls.api_key(rest)
        user, sep, secret = rest.partition(":")
        if kind == "basic" and sep:
            return cls.basic(user, secret)
        if kind == "headers" and sep:
            return cls.timeplus_headers(user, secret)
        raise ValueError(f"--auth {text!r}: expected none, basic:USER:PASS, apikey:KEY or headers:USER:KEY")

    def check_proton(self, headers: Mapping[str, str], query: Mapping[str, str]) -> None:
        """Authenticate a Proton request or raise ProtonError(516)."""
        user, password = _proton_credentials(headers, query)
        if not (_same(user, self.user) and _same(password, self.password)):
            raise ProtonError(
                codes.AUTHENTICATION_FAILED,
                f"{user}: Authentication failed: password is incorrect, or there is no user with such name.",
            )

    def check_app_server(self, headers: Mapping[str, str]) -> None:
        """Authenticate an app-server request or raise AppServerError(401)."""
        if self.kind == "none":
            return
        authorization = headers.get("authorization", "")
        scheme, _, value = authorization.partition(" ")
        if self.kind == "api_key":
            assert self.key is not None
            given = headers.get("x-api-key") or (value.strip() if scheme.lower() == "apikey" else "")
            if given and _same(given, self.key):
                return
            raise AppServerError(401, "invalid or missing API key")
        if scheme.lower() == "basic":
            user, password = _decode_basic(value)
            if user is not None and _same(user, self.user) and _same(password or "", self.password):
                return
        raise AppServerError(401, "invalid username or password")


def _proton_credentials(headers: Mapping[str, str], query: Mapping[str, str]) -> tuple[str, str]:
    user = headers.get("x-timeplus-user", headers.get("x-proton-user", ""))
    password = headers.get("x-timeplus-key", headers.get("x-proton-key", ""))
    authorization = headers.get("authorization")
    if user or password:
        if authorization is not None or "user" in query or "password" in query:
            raise ProtonError(
                codes.AUTHENTICATION_FAILED,
                "Invalid authentication: it is not allowed to use HTTP headers and other "
                "authentication methods simultaneously",
            )
        return user, password
    if authorization is not None:
        if "user" in query or "password" in query:
            raise ProtonError(
                codes.AUTHENTICATION_FAILED,
                "Invalid authentication: it is not allowed to use Authorization HTTP header and "
                "authentication via parameters simultaneously",
            )
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise ProtonError(
                codes.AUTHENTICATION_FAILED,
                f"Invalid authentication: '{scheme}' HTTP Authorization scheme is not supported",
            )
        basic_user, basic_password = _decode_basic(value)
        if basic_user is None:
            raise ProtonError(codes.AUTHENTICATION_FAILED, "Invalid authentication: malformed Basic credentials")
        return basic_user, basic_password or ""
    return query.get("user", "default"), query.get("password", "")


def _decode_basic(value: str) -> tuple[str | None, str | None]:
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    user, sep, password = decoded.partition(":")
    return (user, password) if sep else (None, None)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def redact(name: str, value: str) -> str:
    """A header value safe for the journal: secrets become ``***`` (the scheme stays)."""
    if name.lower() not in SECRET_HEADERS:
        return value
    scheme, sep, _ = value.partition(" ")
    return f"{scheme} ***" if name.lower() == "authorization" and sep else "***"
