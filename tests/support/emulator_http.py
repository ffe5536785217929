"""Helpers for the emulator's own tests: its URLs, compact bodies, raw requests, Proton errors."""

from __future__ import annotations

import http.client as http_client
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest
import requests

from sandbox.timeplus_emulator import TimeplusEmulator

ORDERS = [("id", "int64"), ("name", "string")]


def proton_url(emu: TimeplusEmulator, stream: str = "orders", prefix: str = "proton") -> str:
    return f"{emu.url}/{prefix}/v1/ingest/streams/{stream}"


def app_url(emu: TimeplusEmulator, stream: str = "orders", version: str = "v1beta2") -> str:
    return f"{emu.url}/{emu.workspace}/api/{version}/streams/{stream}/ingest"


def compact(columns: list[Any], data: list[Any]) -> bytes:
    return orjson.dumps({"columns": columns, "data": data})


def post_compact(
    http: requests.Session,
    emu: TimeplusEmulator,
    columns: list[str],
    data: list[Any],
    stream: str = "orders",
    **kwargs: Any,
) -> requests.Response:
    return http.post(proton_url(emu, stream), data=compact(columns, data), **kwargs)


def error_of(response: requests.Response) -> tuple[int, int]:
    """(status, code) of a Proton error answer, checking its documented shape on the way."""
    body = response.json()
    assert set(body) == {"error_msg", "code", "request_id"}, body
    assert response.headers["x-timeplus-exception-code"] == str(body["code"])
    return response.status_code, body["code"]


def raw_request(
    url: str, method: str, path: str, headers: list[tuple[str, str]], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    """Send exactly these headers (no library defaults), as a peer client would."""
    parts = urlsplit(url)
    connection = http_client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    try:
        connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def wait_until(condition: Callable[[], bool], timeout: float = 10.0, what: str = "a condition") -> None:
    """Poll ``condition``; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)
