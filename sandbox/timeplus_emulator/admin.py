"""The emulator's own API under ``/_emulator`` (a prefix Timeplus never uses).

Read-back for tests and benchmarks (rows, counts, digests, the request journal),
stream creation without Timeplus's auth, faults and reset. Never faulted, never
authenticated, never journaled.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

from .codes import ProtonError
from .ingest import parse_json
from .routes import Core, Request, Response, json_body
from .store import Column
from .types import parse_type

_ADMIN_STREAM = re.compile(r"/_emulator/streams/(?P<stream>[^/]+)/(?P<what>rows|count)")


def handle_admin(core: Core, request: Request) -> Response:
    """``/_emulator/...``: read rows, counts and the journal; create streams; set faults."""
    try:
        return _admin(core, request)
    except (ValueError, KeyError, RuntimeError) as exc:
        status = 404 if isinstance(exc, KeyError) else 409 if isinstance(exc, RuntimeError) else 400
        return Response(status, json_body({"error": str(exc).strip("'\"")}))
    except ProtonError as error:
        return Response(400, json_body({"error": error.message, "code": error.code}))


def _admin(core: Core, request: Request) -> Response:
    method, path = request.method, request.path
    match = _ADMIN_STREAM.fullmatch(path)
    if method == "GET" and match:
        name = unquote(match["stream"])
        if match["what"] == "rows":
            return Response(200, json_body({"stream": name, "rows": core.store.rows(name)}))
        count, digest = core.store.count(name), core.store.digest(name)
        return Response(200, json_body({"stream": name, "count": count, "digest": digest}))
    if path == "/_emulator/streams" and method == "GET":
        streams = [dict(s.describe(), count=core.store.count(s.name)) for s in core.store.streams()]
        return Response(200, json_body({"streams": streams}))
    if path == "/_emulator/streams" and method == "POST":
        spec = parse_json(request.body)
        columns = spec.get("columns") if isinstance(spec, dict) else None
        if not isinstance(columns, list | dict):
            raise ValueError('expected {"name": ..., "columns": [["id", "int64"], ...]}')
        parsed = [_admin_column(c) for c in (columns.items() if isinstance(columns, dict) else columns)]
        core.store.create(str(spec["name"]), parsed, if_not_exists=bool(spec.get("if_not_exists")))
        return Response(200, json_body({"created": spec["name"]}))
    if path == "/_emulator/requests" and method == "GET":
        entries = [entry.to_json() for entry in core.journal.entries()]
        return Response(200, json_body({"requests": entries, "by_outcome": core.journal.counters()}))
    if path == "/_emulator/stats" and method == "GET":
        summary = {
            s.name: {"count": core.store.count(s.name), "digest": core.store.digest(s.name)}
            for s in core.store.streams()
        }
        stats = {"streams": summary, "requests": core.journal.counters(), "faults": core.faults.describe()}
        return Response(200, json_body(stats))
    if path == "/_emulator/faults" and method == "POST":
        spec = parse_json(request.body)
        if not isinstance(spec, dict):
            raise ValueError('expected {"kind": "fail_next", "n": 1, ...}')
        core.faults.apply_json(spec)
        return Response(200, json_body({"faults": core.faults.describe()}))
    if path == "/_emulator/faults" and method == "DELETE":
        core.faults.clear()
        return Response(200, json_body({"faults": core.faults.describe()}))
    if path == "/_emulator/faults" and method == "GET":
        return Response(200, json_body({"faults": core.faults.describe()}))
    if path == "/_emulator/reset" and method == "POST":
        core.store.reset()
        core.journal.clear()
        return Response(200, json_body({"reset": True}))
    return Response(404, json_body({"error": f"no admin endpoint {method} {path}"}))


def _admin_column(spec: Any) -> Column:
    """A column of the admin API: ``{"name", "type"}`` or ``["name", "type"]``."""
    if isinstance(spec, dict):
        return Column(str(spec["name"]), parse_type(spec["type"]))
    name, type_name = spec
    return Column(str(name), parse_type(type_name))
