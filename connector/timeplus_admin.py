"""Timeplus's stream resource: read a stream's columns, create a stream (``check``, ``create-streams``).

Through the client's session (``TimeplusClient.request``), so the same URL, credentials,
proxies and timeouts apply as for ingest:

* Proton / timeplusd (no workspace): ``GET /proton/v1/ddl/streams`` lists every stream
  with its columns (``{"data": [{"name", "columns": [{"name", "type", "nullable"}]}]}``);
  ``POST /proton/v1/ddl/streams`` with ``{"name", "columns": [{"name", "type"}]}`` creates one.
* Enterprise / Cloud app server (a workspace): ``GET /{ws}/api/v1beta2/streams/{name}``
  answers the SDK's ``Stream`` model (404 when there is none); ``POST /{ws}/api/v1beta2/streams``
  with the same ``{"name", "columns"}`` creates one.

Creation is asynchronous in Timeplus, so ``create`` polls until the stream is listed.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import quote

import orjson

from connector.config import TimeplusConfig
from connector.errors import FatalError, RetriableError
from connector.stream_schema import ImpliedStream, StreamColumn, StreamSchema
from connector.timeplus import AUTH_ERROR_CODES, Answer, TimeplusClient

_PROTON_STREAMS = "/proton/v1/ddl/streams"


class TimeplusAdmin:
    """Describes and creates streams; raises FatalError for refused credentials, RetriableError when unreachable."""

    def __init__(self, client: TimeplusClient, config: TimeplusConfig) -> None:
        self._client = client
        self._config = config
        self._base = f"/{quote(config.workspace, safe='')}/api/v1beta2/streams" if config.workspace else None

    @property
    def url(self) -> str:
        """Where Timeplus is, for the check table."""
        return self._config.url

    def describe(self, stream: str) -> StreamSchema | None:
        """The stream's columns as Timeplus lists them, or None when it does not exist (yet)."""
        if self._base is not None:
            answer = self._call("GET", f"{self._base}/{quote(stream, safe='')}", f"stream {stream}")
            if answer.status == 404:
                return None
            return _schema(_json(answer, f"stream {stream}"))
        listing = _json(self._call("GET", _PROTON_STREAMS, "the stream list"), "the stream list")
        entries = listing.get("data", []) if isinstance(listing, dict) else []
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("name") == stream:
                return _schema(entry)
        return None

    def create(self, stream: ImpliedStream, *, visible_within_s: float = 30.0) -> None:
        """Create ``stream`` with its typed columns and wait until Timeplus lists it."""
        body = {"name": stream.name, "columns": [{"name": n, "type": t} for n, t in stream.columns]}
        answer = self._call("POST", self._base or _PROTON_STREAMS, f"create stream {stream.name}", orjson.dumps(body))
        if answer.status >= 300:
            raise FatalError(f"create stream {stream.name}: HTTP {answer.status}{_because(answer)}")
        deadline = time.monotonic() + visible_within_s
        while self.describe(stream.name) is None:
            if time.monotonic() > deadline:
                raise RetriableError(f"create stream {stream.name}: not listed {visible_within_s:.0f} s after creation")
            time.sleep(0.2)

    def _call(self, method: str, path: str, what: str, body: bytes | None = None) -> Answer:
        answer = self._client.request(method, path, body)
        if answer.code in AUTH_ERROR_CODES or answer.status in (401, 403):
            raise FatalError(
                f"{what}: credentials refused (HTTP {answer.status}{_because(answer)}); "
                "check timeplus.api_key / username / password"
            )
        missing = answer.status == 404 and self._base is not None  # the app server's "no such stream"
        if method == "GET" and answer.status >= 300 and not missing:
            raise FatalError(f"{what}: HTTP {answer.status}{_because(answer)}")
        return answer


def _because(answer: Answer) -> str:
    code = f" code {answer.code}" if answer.code is not None else ""
    return f"{code}: {answer.message}" if answer.message else code


def _json(answer: Answer, what: str) -> Any:
    try:
        return orjson.loads(answer.body)
    except orjson.JSONDecodeError as exc:
        raise FatalError(f"{what}: Timeplus answered something that is not JSON ({exc})") from exc


def _schema(entry: Any) -> StreamSchema:
    """A ``{"name", "columns": [{"name", "type", "nullable"}]}`` entry; a nullable column's type wraps its type."""
    columns = []
    for column in entry.get("columns", []) if isinstance(entry, dict) else []:
        if isinstance(column, dict) and isinstance(column.get("name"), str) and isinstance(column.get("type"), str):
            type_name = column["type"]
            if column.get("nullable") is True and not type_name.lower().startswith("nullable("):
                type_name = f"nullable({type_name})"
            columns.append(StreamColumn(column["name"], type_name))
    return StreamSchema(str(entry.get("name", "")) if isinstance(entry, dict) else "", tuple(columns))
