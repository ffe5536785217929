"""The Timeplus ingest client: the only module that speaks HTTP.

It turns every answer into success or one of the project's error classes. Timeplus
answers some data and auth errors with HTTP 500, so the ``code`` in the error body
decides before the status does (DESIGN.md §4).
"""

from __future__ import annotations

import base64
import gzip
import logging
from typing import Any, NamedTuple
from urllib.parse import quote

import orjson
import requests

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
#: Raised while a request is built, before anything is sent: retrying cannot help.
_UNBUILDABLE = (
    requests.exceptions.InvalidHeader,
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
    requests.exceptions.URLRequired,
    UnicodeEncodeError,  # http.client encodes header values as Latin-1
)

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
    """POSTs ingest bodies to one Timeplus endpoint over a keep-alive session."""

    def __init__(self, config: TimeplusConfig) -> None:
        self._config = config
        self._session = requests.Session()
        # One keep-alive connection per delivery thread (requests keeps 10 by default).
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=config.max_in_flight)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._timeout = (config.connect_timeout_s, config.timeout_s)
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
        self._session.headers.update(headers)
        # Read proxy and CA-bundle variables once, not on every request: with trust_env
        # on, requests also stats ~/.netrc per request, under the GIL the consumer needs.
        # (Credentials come from the config, so .netrc is deliberately not consulted.)
        settings = self._session.merge_environment_settings(config.url, {}, None, None, None)
        self._session.proxies.update(settings["proxies"])
        self._session.verify = settings["verify"]
        self._session.trust_env = False

    def ingest_url(self, stream: str) -> str:
        """Proton's v1 route, or the app server's route of Enterprise/Cloud when a workspace is set."""
        name = quote(stream, safe="")
        config = self._config
        if config.workspace:
            return f"{config.url}/{quote(config.workspace, safe='')}/api/{config.api_version}/streams/{name}/ingest"
        return f"{config.url}/proton/v1/ingest/streams/{name}"

    def ingest(self, stream: str, body: bytes, idempotent_id: str | None = None) -> None:
        """Send one body; return on 2xx, raise a classified ConnectorError otherwise.

        ``idempotent_id`` goes in ``x-timeplus-idempotent-id``: Timeplus stores a request
        carrying an id it has seen (among the stream's last ``max_idempotent_ids``) only once.
        """
        url = self.ingest_url(stream)
        data = gzip.compress(body, compresslevel=1) if self._config.gzip else body
        headers = {IDEMPOTENT_ID_HEADER: idempotent_id} if idempotent_id is not None else None
        try:
            response = self._session.post(url, data=data, headers=headers, timeout=self._timeout)
        except requests.Timeout as exc:
            raise RetriableError(
                f"ingest into {stream}: no answer within the timeout ({type(exc).__name__})",
                reason="timeout",
            ) from exc
        except requests.ConnectionError as exc:
            raise RetriableError(
                f"ingest into {stream}: cannot reach {self._config.url}: {_root_cause(exc)}",
                reason="unreachable",
            ) from exc
        except _UNBUILDABLE as exc:
            # Raised before anything was sent, and the same on every retry. Their text
            # quotes the header value or URL, which can be the key: name the class only,
            # and drop the chain so that no traceback prints it either.
            raise FatalError(
                f"ingest into {stream}: cannot build the request ({type(exc).__name__}): a header value or the URL "
                "holds characters HTTP cannot carry (check timeplus.api_key, username and url)"
            ) from None
        except requests.RequestException as exc:
            raise RetriableError(f"ingest into {stream}: {type(exc).__name__}: {exc}") from exc
        if 200 <= response.status_code < 300:
            return
        raise classify(stream, response.status_code, response.content, response.headers)

    def close(self) -> None:
        """Close the keep-alive connections."""
        self._session.close()

    def request(self, method: str, path: str, body: bytes | None = None) -> Answer:
        """One uncompressed JSON request to ``{url}{path}`` with the client's credentials (admin calls).

        Raises RetriableError when Timeplus cannot be reached; any answer is returned.
        """
        url = f"{self._config.url}{path}"
        headers = {"Content-Encoding": None}  # admin bodies go uncompressed, whatever gzip says
        try:
            response = self._session.request(method, url, data=body, headers=headers, timeout=self._timeout)
        except requests.RequestException as exc:
            raise RetriableError(f"{method} {path}: cannot reach {self._config.url}: {_root_cause(exc)}") from exc
        code, message = _parse_error(response.content, response.headers) if response.status_code >= 300 else (None, "")
        return Answer(response.status_code, response.content, code, message)

    def __repr__(self) -> str:
        return f"TimeplusClient({self._config.url!r}, workspace={self._config.workspace!r})"


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
