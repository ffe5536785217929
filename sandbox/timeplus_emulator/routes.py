"""What each URL does: Proton's REST routes, the app server's ingest route, SQL (admin: admin.py).

Everything here works on plain ``Request``/``Response`` values; ``server.py`` does the
sockets. Route patterns copy Proton's RestRouterFactory.h: they are matched against
the whole URI, query string included, so ``/proton/v1/ingest/streams/s?user=x`` is a
404 "Unknown URI" (code 78), not an ingest.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

import orjson

from . import codes
from .auth import Auth
from .codes import AppServerError, ProtonError, StatusMap
from .faults import Faults
from .ingest import app_format, app_rows, check_rows, decode_body, parse_compact, parse_json
from .sql import CountRows, parse_ddl_payload, parse_statement
from .store import Journal, Store

RouteKind = Literal["proton_ingest", "app_ingest", "proton", "app", "sql", "admin", "unknown"]

INGEST_MODES = frozenset({"", "async", "sync", "fire_and_forget", "ordered"})
_PROTON_INGEST = re.compile(
    r"/(?:proton|timeplusd)/v1/ingest/streams/(?P<stream>[%\w]+)(?:\?mode=(?P<mode>\w+))?", re.A
)
_PROTON_DDL = re.compile(r"/(?:proton|timeplusd)/v1/ddl/streams(?:\?[\w\-=&#]+)?", re.A)
_PROTON_PING = re.compile(r"/(?:proton|timeplusd)/ping", re.A)
_APP_INGEST = re.compile(r"/(?P<workspace>[^/]+)/api/(?:v1beta1|v1beta2)/streams/(?P<stream>[^/]+)/ingest")
# The app server's stream resource (SDK StreamsV1beta2Api): GET/POST .../streams, GET .../streams/{name}.
_APP_STREAMS = re.compile(r"/(?P<workspace>[^/]+)/api/v1beta2/streams(?:/(?P<stream>[^/]+))?")
JSON_TYPE = "application/json; charset=UTF-8"


@dataclass(slots=True)
class Request:
    """One HTTP request, body already read (and not yet decompressed)."""

    method: str
    uri: str  # path and query, as sent
    headers: Mapping[str, str]  # lower-case names
    body: bytes = b""

    @property
    def path(self) -> str:
        return self.uri.partition("?")[0]

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.uri.partition("?")[2], keep_blank_values=True))

    def request_id(self) -> str:
        """Proton takes the query id from these headers, else makes one up."""
        for name in ("x-timeplus-request-id", "x-timeplus-query-id", "x-proton-request-id", "x-proton-query-id"):
            if self.headers.get(name):
                return self.headers[name]
        return str(uuid.uuid4())

    def idempotent_id(self) -> str | None:
        return idempotent_id(self.headers)


def idempotent_id(headers: Mapping[str, str]) -> str | None:
    """The request's idempotent id; Proton reads both header names (an empty one is none)."""
    return headers.get("x-timeplus-idempotent-id") or headers.get("x-proton-idempotent-id") or None


@dataclass(slots=True)
class Response:
    """An answer plus what the journal records about it."""

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)
    code: int | None = None
    outcome: str = "ok"
    rows: int = 0
    stream: str | None = None


def classify(method: str, uri: str) -> RouteKind:
    """The family of a request, known before its body is read (faults apply to ingests)."""
    path = uri.partition("?")[0]
    if path.startswith("/_emulator/") or path == "/_emulator":
        return "admin"
    if path.startswith(("/proton/", "/timeplusd/")):
        return "proton_ingest" if method == "POST" and _PROTON_INGEST.fullmatch(uri) else "proton"
    if _APP_INGEST.fullmatch(path):
        return "app_ingest" if method == "POST" else "app"
    if path in ("/", "/ping"):
        return "sql"
    if re.fullmatch(r"/[^/]+/api/.*", path):
        return "app"
    return "unknown"


def json_body(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:  # integers beyond 64 bits
        return json.dumps(value, default=str).encode()


class Core:
    """The emulator's state and the handlers of every route."""

    def __init__(
        self, *, store: Store, journal: Journal, faults: Faults, auth: Auth, workspace: str, status_map: StatusMap
    ) -> None:
        self.store = store
        self.journal = journal
        self.faults = faults
        self.auth = auth
        self.workspace = workspace
        self.status_map = status_map

    # --- Proton ------------------------------------------------------------------

    def proton(self, request: Request) -> Response:
        """Proton's REST handler: authenticate, route on the full URI, answer JSON."""
        request_id = request.request_id()
        try:
            response = self._proton_route(request, request_id)
        except ProtonError as error:
            response = self.proton_error(error, request_id)
        response.headers.setdefault("x-timeplus-query-id", request_id)
        return response

    def proton_error(self, error: ProtonError, request_id: str) -> Response:
        body = json_body({"error_msg": error.message, "code": error.code, "request_id": request_id}) + b"\n"
        return Response(
            error.status_for(self.status_map),
            body,
            headers={"x-timeplus-exception-code": str(error.code)},
            code=error.code,
            outcome="error",
        )

    def _proton_route(self, request: Request, request_id: str) -> Response:
        if request.method == "GET" and _PROTON_PING.fullmatch(request.uri):
            return Response(200, b'{"status":"UP"}')  # GET on ping bypasses auth (isBypassUri)
        self.auth.check_proton(request.headers, request.query)
        match = _PROTON_INGEST.fullmatch(request.uri)
        if request.method == "POST" and match:
            return self._proton_ingest(request, unquote(match["stream"]), match["mode"], request_id)
        if request.method in ("GET", "POST") and _PROTON_DDL.fullmatch(request.uri):
            return self._ddl(request, request_id)
        raise ProtonError(codes.UNKNOWN_TYPE_OF_QUERY, "Unknown URI", status=404)

    def _proton_ingest(self, request: Request, stream_name: str, mode: str | None, request_id: str) -> Response:
        if mode is not None and mode not in INGEST_MODES:
            raise ProtonError(codes.BAD_REQUEST_PARAMETER, f"No support ingest mode: {mode}", status=400)
        try:
            body = decode_body(request.body, request.headers.get("content-encoding"))
            columns, data = parse_compact(body, exact_ints=self._wide(stream_name))
            return self._insert(stream_name, columns, data, request, json_body({"request_id": request_id}))
        except ProtonError as error:
            response = self.proton_error(error, request_id)
            response.stream = stream_name
            return response

    def _wide(self, stream_name: str) -> bool:
        stream = self.store.find(stream_name)
        return stream is not None and stream.wide_ints

    def _insert(
        self, stream_name: str, columns: list[str], data: list[Any], request: Request, ok_body: bytes
    ) -> Response:
        stream = self.store.get(stream_name)
        batch = check_rows(stream, columns, data)
        result = self.store.insert(stream, batch.names, batch.values, batch.rows, request.idempotent_id())
        outcome = "duplicate" if result.duplicate else "stored"
        return Response(200, ok_body, rows=result.rows, outcome=outcome, stream=stream_name)

    def _ddl(self, request: Request, request_id: str) -> Response:
        if request.method == "GET":
            listing = [stream.describe() for stream in self.store.streams()]
            return Response(200, json_body({"data": listing, "request_id": request_id}))
        try:
            payload = parse_json(decode_body(request.body, request.headers.get("content-encoding")))
        except ValueError as exc:
            raise ProtonError(codes.INCORRECT_DATA, f"Invalid JSON: {exc}", status=400) from None
        name, columns = parse_ddl_payload(payload)
        try:
            self.store.create(name, columns, delay=self.faults.ddl_delay())
        except ProtonError as error:
            if error.code == codes.STREAM_ALREADY_EXISTS:  # TableRestRouterHandler answers 400 itself
                raise ProtonError(error.code, error.message, status=400) from None
            raise
        return Response(200, json_body({"request_id": request_id}), stream=name)

    # --- the Enterprise / Cloud app server ----------------------------------------------

    def app(self, request: Request) -> Response:
        """The app server's ingest route; its own errors are ``{"code", "message"}``."""
        try:
            return self._app_route(request)
        except AppServerError as error:
            return self._app_error(error.status, error.status, error.message)
        except ProtonError as error:  # forwarded from timeplusd, status and code kept
            return self._app_error(error.status_for(self.status_map), error.code, error.message)

    def _app_error(self, status: int, code: int, message: str) -> Response:
        return Response(status, json_body({"code": code, "message": message}), code=code, outcome="error")

    def _app_route(self, request: Request) -> Response:
        self.auth.check_app_server(request.headers)
        streams = _APP_STREAMS.fullmatch(request.path)
        if streams is not None:
            self._app_workspace(streams["workspace"])
            return self._app_streams(request, unquote(streams["stream"]) if streams["stream"] else None)
        match = _APP_INGEST.fullmatch(request.path)
        if match is None or request.method != "POST":
            raise AppServerError(
                404, "not found: the emulator serves only the stream resource and its ingest route of the app server"
            )
        self._app_workspace(match["workspace"])
        stream_name = unquote(match["stream"])
        body_format = app_format(request.headers.get("content-type"), request.query.get("format"))
        body = decode_body(request.body, request.headers.get("content-encoding"))
        columns, data = app_rows(body, body_format, exact_ints=self._wide(stream_name))
        return self._insert(stream_name, columns, data, request, b"")

    def _app_workspace(self, workspace: str) -> None:
        if unquote(workspace) != self.workspace:
            raise AppServerError(404, f"workspace {unquote(workspace)!r} not found")

    def _app_streams(self, request: Request, name: str | None) -> Response:
        """List (GET), describe (GET .../{name}) or create (POST) streams, as the SDK's Stream model."""
        if request.method == "GET" and name is None:
            return Response(200, json_body([app_stream(s.describe()) for s in self.store.streams()]))
        if request.method == "GET" and name is not None:
            stream = self.store.find(name)
            if stream is None:
                raise AppServerError(404, f"stream {name!r} not found")
            return Response(200, json_body(app_stream(stream.describe())))
        if request.method == "POST" and name is None:
            try:
                payload = parse_json(decode_body(request.body, request.headers.get("content-encoding")))
            except ValueError as exc:
                raise AppServerError(400, f"invalid JSON: {exc}") from None
            created, columns = parse_ddl_payload(payload)
            try:
                self.store.create(created, columns, delay=self.faults.ddl_delay())
            except ProtonError as error:
                if error.code == codes.STREAM_ALREADY_EXISTS:
                    raise AppServerError(409, error.message) from None
                raise
            return Response(201, json_body(payload), stream=created)
        raise AppServerError(405, f"{request.method} is not served on the stream resource by the emulator")

    # --- SQL over HTTP (port 8123 in Proton) -------------------------------------------

    def sql(self, request: Request) -> Response:
        """``GET /?query=`` or ``POST /`` with the statement; ClickHouse-style text errors."""
        if request.path == "/ping" and request.method == "GET":
            return Response(200, b"Ok.\n", content_type="text/plain; charset=UTF-8")
        request_id = request.request_id()
        try:
            response = self._sql(request)
        except ProtonError as error:
            name = codes.NAMES.get(error.code, "UNKNOWN")
            text = f"Code: {error.code}. DB::Exception: {error.message}. ({name}) (version emulator)\n"
            response = Response(
                error.status_for(self.status_map),
                text.encode(),
                content_type="text/plain; charset=UTF-8",
                headers={"x-timeplus-exception-code": str(error.code)},
                code=error.code,
                outcome="error",
            )
        response.headers.setdefault("x-timeplus-query-id", request_id)
        return response

    def _sql(self, request: Request) -> Response:
        query = request.query
        self.auth.check_proton(request.headers, query)
        if request.method not in ("GET", "POST"):
            raise ProtonError(codes.UNKNOWN_TYPE_OF_QUERY, f"HTTP method {request.method} is not supported", status=405)
        body = decode_body(request.body, request.headers.get("content-encoding")).decode("utf-8", "replace")
        text = "\n".join(part for part in (query.get("query", ""), body) if part)
        statement = parse_statement(text)
        if isinstance(statement, CountRows):
            count = self.store.get(statement.name).count
            return Response(200, f"{count}\n".encode(), content_type="text/tab-separated-values; charset=UTF-8")
        if request.method == "GET":
            raise ProtonError(codes.READONLY, "Cannot execute query in readonly mode (GET requests are read-only)")
        self.store.create(
            statement.name, statement.columns, if_not_exists=statement.if_not_exists, delay=self.faults.ddl_delay()
        )
        return Response(200, b"", content_type="text/plain; charset=UTF-8", stream=statement.name)


def app_stream(described: dict[str, Any]) -> dict[str, Any]:
    """A stream as the app server's ``Stream`` model shows it (SDK ``models/stream.py``)."""
    return {
        "name": described["name"],
        "columns": [dict(c, default="", codec="") for c in described["columns"]],
        "description": "",
        "engine": "Stream",
        "mode": "append",
        "logstore_retention_bytes": -1,
        "logstore_retention_ms": -1,
        "ttl": "",
        "ttl_expression": "",
    }
