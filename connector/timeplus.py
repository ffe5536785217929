"""The Timeplus ingest client: the only module that speaks HTTP.

It turns every answer into success or one of the project's error classes. Timeplus
answers some data and auth errors with HTTP 500, so the ``code`` in the error body
decides before the status does (DESIGN.md §4).
"""

from __future__ import annotations

import base64
import gzip
import logging
import os
from collections.abc import Callable
from typing import Any, NamedTuple
from urllib.parse import quote

import orjson
import requests
import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError

from connector.config import BodyFormat, TimeplusConfig
from connector.errors import FatalError, IngestRejected, RetriableError

log = logging.getLogger(__name__)

# Proton error codes (ErrorCodes.cpp) that mean "this data cannot be inserted".
DATA_ERROR_CODES = frozenset({6, 26, 27, 32, 38, 41, 53, 69, 70, 72, 117, 376, 467})
AUTH_ERROR_CODES = frozenset({192, 193, 194, 195, 516})
UNKNOWN_STREAM = 60
UNKNOWN_COLUMN = 16
#: The header that makes an ingest request idempotent (Proton also reads x-proton-idempotent-id).
IDEMPOTENT_ID_HEADER = "x-timeplus-idempotent-id"
RETRIABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
# The Content-Type per timeplus.body_format. Proton ignores it and reads compact; the app
# server reads the body it announces. application/json is compact's first type on the
# ingest page and what Timeplus's SDK sends; application/x-ndjson needs no ?format=.
CONTENT_TYPES: dict[BodyFormat, str] = {"compact": "application/json", "ndjson": "application/x-ndjson"}


class Answer(NamedTuple):
    """An answer to an admin request: its status, body, and Proton's error code and message if it failed."""

    status: int
    body: bytes
    code: int | None
    message: str


class TimeplusClient:
    """POSTs ingest bodies to one Timeplus endpoint over keep-alive connections.

    urllib3 directly, not through requests: the delivery threads share the GIL with the
    consumer thread, and requests' own layers (preparing, hooks, cookies, the Response) cost
    it ~0.4 ms more per 10,000-row request, 1.85-2.0 ms against 1.3-1.7 (``python -m
    bench.http_cost``).
    Proxy and CA-bundle variables are read as requests reads them (HTTPS_PROXY, NO_PROXY,
    REQUESTS_CA_BUNDLE...), once.
    """

    def __init__(self, config: TimeplusConfig) -> None:
        self._config = config
        self._timeout = urllib3.Timeout(connect=config.connect_timeout_s, read=config.timeout_s)
        headers = {"Content-Type": CONTENT_TYPES[config.body_format]}
        if config.gzip:
            headers["Content-Encoding"] = "gzip"
        if config.api_key and config.auth_header == "authorization":
            headers["Authorization"] = f"ApiKey {config.api_key.reveal()}"
        elif config.api_key:
            headers["X-Api-Key"] = config.api_key.reveal()
        elif config.username:
            password = config.password.reveal() if config.password else ""
            token = base64.b64encode(f"{config.username}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        self._headers = headers
        self._admin_headers = {k: v for k, v in headers.items() if k != "Content-Encoding"}
        #: Why no request can be built, if none can: said without the value, which can be the key.
        self._unbuildable = _unbuildable_header(headers)
        self._manager: urllib3.PoolManager | None = None
        try:
            self._manager, self._urlopen, self._prefix = _connections(config.url, config.max_in_flight)
        except ValueError as exc:  # raised at the first request, as any other unbuildable request
            self._unbuildable = (
                f"the URL or the proxy the environment names for it cannot be used ({type(exc).__name__})"
            )

    def _route(self, stream: str) -> str:
        """The path of ``stream``'s ingest route below the URL: Proton's v1 route, or the app
        server's of Enterprise/Cloud when a workspace is set."""
        name = quote(stream, safe="")
        config = self._config
        if config.workspace:
            return f"/{quote(config.workspace, safe='')}/api/{config.api_version}/streams/{name}/ingest"
        return f"/proton/v1/ingest/streams/{name}"

    def ingest_url(self, stream: str) -> str:
        """The URL ``ingest`` posts ``stream``'s rows to."""
        return self._config.url + self._route(stream)

    def ingest(self, stream: str, body: bytes, idempotent_id: str | None = None) -> None:
        """Send one body; return on 2xx, raise a classified ConnectorError otherwise.

        ``idempotent_id`` goes in ``x-timeplus-idempotent-id``: Timeplus stores a request
        carrying an id it has seen (among the stream's last ``max_idempotent_ids``) only once.
        """
        data = gzip.compress(body, compresslevel=1) if self._config.gzip else body
        headers = self._headers if idempotent_id is None else {**self._headers, IDEMPOTENT_ID_HEADER: idempotent_id}
        response = self._send("POST", self._route(stream), data, headers, f"ingest into {stream}")
        if 200 <= response.status < 300:
            return
        raise classify(stream, response.status, response.data, response.headers)

    def close(self) -> None:
        """Close the keep-alive connections."""
        if self._manager is not None:
            self._manager.clear()

    def request(self, method: str, path: str, body: bytes | None = None) -> Answer:
        """One uncompressed JSON request to ``{url}{path}`` with the client's credentials (admin calls).

        Raises RetriableError when Timeplus cannot be reached; any answer is returned.
        """
        response = self._send(method, path, body, self._admin_headers, f"{method} {path}")
        status, content = response.status, response.data
        code, message = _parse_error(content, response.headers) if status >= 300 else (None, "")
        return Answer(status, content, code, message)

    def _send(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str], what: str
    ) -> urllib3.BaseHTTPResponse:
        """One request to ``path`` below the URL, neither retried (the Sender retries) nor redirected."""
        if self._unbuildable is not None:
            raise FatalError(f"timeplus: cannot build a request: {self._unbuildable}")
        try:
            return self._urlopen(
                method,
                self._prefix + path,
                body=body,
                headers=headers,
                timeout=self._timeout,
                retries=False,
                redirect=False,
            )
        except NewConnectionError as exc:  # before its base class, urllib3's TimeoutError
            raise RetriableError(
                f"{what}: cannot reach {self._config.url}: {_root_cause(exc)}", reason="unreachable"
            ) from exc
        except urllib3.exceptions.TimeoutError as exc:
            raise RetriableError(
                f"{what}: no answer within the timeout ({type(exc).__name__})", reason="timeout"
            ) from exc
        except ValueError as exc:
            # Raised before anything was sent, and the same on every retry: the URL (a port out
            # of range), a proxy variable's scheme urllib3 cannot speak (socks), a header value
            # http.client refuses or cannot encode as Latin-1. Their text can quote the URL or the
            # value, which can be the key: name the class only, and drop the chain so that no
            # traceback prints it either.
            raise FatalError(
                f"{what}: cannot build the request ({type(exc).__name__}): a header value or the URL "
                "holds characters HTTP cannot carry (check timeplus.api_key, username and url)"
            ) from None
        except (HTTPError, OSError) as exc:
            raise RetriableError(
                f"{what}: cannot reach {self._config.url}: {_root_cause(exc)}", reason="unreachable"
            ) from exc

    def __repr__(self) -> str:
        return f"TimeplusClient({self._config.url!r}, workspace={self._config.workspace!r})"


def _unbuildable_header(headers: dict[str, str]) -> str | None:
    """What is wrong with the first header whose value HTTP cannot carry (requests' own check)."""
    for name, value in headers.items():
        try:
            requests.utils.check_header_validity((name, value))
        except requests.exceptions.InvalidHeader:
            return (
                f"the {name} header holds characters HTTP cannot carry (a line break or leading whitespace; "
                "check timeplus.api_key, username and password)"
            )
    return None


def _connections(url: str, size: int) -> tuple[urllib3.PoolManager, Callable[..., urllib3.BaseHTTPResponse], str]:
    """Keep-alive connections to ``url`` (``size`` kept), through the proxy the environment names
    for it, verified as requests would: the manager, its ``urlopen`` and what precedes a route.

    Without a proxy, requests go straight to the one host's pool (the manager would parse
    and look up the URL again on each), so a route is preceded by the URL's path only.
    """
    # requests' reading of HTTP(S)_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE and CURL_CA_BUNDLE.
    settings = requests.Session().merge_environment_settings(url, {}, None, None, None)
    proxy = requests.utils.select_proxy(url, settings["proxies"])
    bundle = settings["verify"] if isinstance(settings["verify"], str) else requests.utils.DEFAULT_CA_BUNDLE_PATH
    tls: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED"}
    tls["ca_cert_dir" if os.path.isdir(bundle) else "ca_certs"] = bundle
    # block=False: a thread that finds every connection busy opens one more, used once.
    if proxy is None:
        manager = urllib3.PoolManager(maxsize=size, block=False, **tls)
        return manager, manager.connection_from_url(url).urlopen, urllib3.util.parse_url(url).path or ""
    username, password = requests.utils.get_auth_from_url(proxy)
    auth = urllib3.make_headers(proxy_basic_auth=f"{username}:{password}") if username else None
    manager = urllib3.ProxyManager(proxy, maxsize=size, block=False, proxy_headers=auth, **tls)
    return manager, manager.urlopen, url


def classify(stream: str, status: int, body: bytes, headers: Any) -> Exception:
    """Map a non-2xx answer to RetriableError, FatalError or IngestRejected."""
    code, message = _parse_error(body, headers)
    detail = f"ingest into {stream}: HTTP {status}" + (f" code {code}" if code is not None else "")
    detail += f": {message}" if message else ""
    if code in AUTH_ERROR_CODES or status in (401, 403):
        return FatalError(f"{detail} (check timeplus.api_key / username / password)")
    if code == UNKNOWN_STREAM or (status == 404 and code is None):
        return FatalError(f"{detail} (does stream {stream!r} exist?)")
    if code == UNKNOWN_COLUMN:
        return FatalError(f"{detail} (the mapping names a column the stream does not have)")
    if code in DATA_ERROR_CODES or (status in (400, 422) and code is not None) or status == 413:
        # 413 included: a request too large for Timeplus or a proxy passes once split in halves.
        return IngestRejected(detail, stream=stream, status=status, code=code)
    if status in (400, 422):
        # Timeplus names every rejection with an error code, in the body or in the
        # x-timeplus-exception-code header (DESIGN.md §4). A 400 without one was written by
        # something between us and Timeplus (a proxy, a gateway, a WAF), so it is no evidence
        # that the rows are bad (§2: a data error is "a rejected value"): splitting the batch
        # would dead-letter good rows. It says Timeplus could not be reached as addressed, like
        # a gateway's 502, so it is retried with backoff and one warning per outage, nothing
        # committed meanwhile; timeplus.max_retries bounds it for users who prefer to stop.
        return RetriableError(f"{detail} (no Timeplus error code: an answer of a proxy or gateway?)")
    if status in RETRIABLE_STATUSES or status >= 500:
        return RetriableError(detail, retry_after=_retry_after(headers), reason=f"http_{status}")
    if 300 <= status < 400:
        # Not followed: a 301/302 would turn the POST into a GET, and the rows would be lost to it.
        location = headers.get("Location") if headers is not None else None
        return FatalError(f"{detail} (a redirect to {location}: set timeplus.url to the address Timeplus answers on)")
    return FatalError(detail)


def _parse_error(body: bytes, headers: Any) -> tuple[int | None, str]:
    code: int | None = None
    message = ""
    try:
        parsed = orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        parsed = None
    if isinstance(parsed, dict):
        raw_code = parsed.get("code")
        code = raw_code if isinstance(raw_code, int) else None
        message = str(parsed.get("error_msg") or parsed.get("message") or "")
    elif body:
        message = body[:300].decode("utf-8", "replace")
    if code is None:
        header = headers.get("x-timeplus-exception-code") if headers is not None else None
        if header and str(header).isdigit():
            code = int(header)
    return code, message.strip()[:500]


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") if headers is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: fall back to our own backoff


def _root_cause(exc: BaseException) -> str:
    while exc.__cause__ is not None or exc.__context__ is not None:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return f"{type(exc).__name__}: {exc}"
