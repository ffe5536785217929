"""Proxy variables are read as requests reads them, once at start: the request goes where they say.

A local HTTP server plays both the proxy and Timeplus: a request sent through a proxy
names the absolute URL on its request line, a direct one only the path.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from connector.config import Secret, TimeplusConfig
from connector.errors import FatalError
from connector.timeplus import TimeplusClient

BODY = b'{"columns":["v"],"data":[[1]]}'


class Seen(BaseHTTPRequestHandler):
    """Answers every POST 200 and notes its request line and Proxy-Authorization header."""

    requests: ClassVar[list[tuple[str, str | None]]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        Seen.requests.append((self.path, self.headers.get("Proxy-Authorization")))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Seen.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Seen)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_proxied_url_goes_through_the_proxy_with_its_credentials(
    server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://ops:p%40ss@{server}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    client = TimeplusClient(TimeplusConfig(url="http://timeplus.example:3218"))
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # read once, at start: not used
    try:
        client.ingest("s", BODY)
    finally:
        client.close()
    credentials = "Basic " + base64.b64encode(b"ops:p@ss").decode()
    assert Seen.requests == [("http://timeplus.example:3218/proton/v1/ingest/streams/s", credentials)]
    assert "p@ss" not in repr(client) and "p%40ss" not in repr(client)


def test_no_proxy_sends_directly(server: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens: a proxied request would fail
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = TimeplusClient(TimeplusConfig(url=f"http://{server}"))
    try:
        client.ingest("s", BODY)
    finally:
        client.close()
    assert Seen.requests == [("/proton/v1/ingest/streams/s", None)]


def test_a_proxy_of_a_scheme_that_cannot_be_used_is_fatal_and_shows_no_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "socks5://ops:SECRETMARK@127.0.0.1:1080")
    client = TimeplusClient(TimeplusConfig(url="https://timeplus.example", api_key=Secret("key")))
    with pytest.raises(
        FatalError, match=r"timeplus: cannot build a request: the URL or the proxy .*ProxySchemeUnknown"
    ) as info:
        client.ingest("s", BODY)
    assert "SECRETMARK" not in str(info.value)
