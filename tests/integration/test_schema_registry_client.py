"""The Schema Registry adapter's answers, each class of them: against the real registry, and a
loopback server answering what a registry does when it fails (a real registry cannot be made to)."""

from __future__ import annotations

import json
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from connector.config import SchemaRegistryConfig, Secret
from connector.errors import DataError, FatalError, RetriableError
from connector.schema_registry import SchemaRegistryClient
from sandbox.processes import free_ports
from sandbox.schema_registry import SchemaRegistry


class Answers(BaseHTTPRequestHandler):
    """Answers every GET with the status and body queued on the server."""

    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, Server)
        server.seen.append((self.path, self.headers.get("Authorization")))
        status, body = server.answers.pop(0)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class Server(ThreadingHTTPServer):
    answers: list[tuple[int, bytes]]
    seen: list[tuple[str, str | None]]


@pytest.fixture
def server() -> Iterator[Server]:
    found = Server(("127.0.0.1", 0), Answers)
    found.answers, found.seen = [], []
    thread = threading.Thread(target=found.serve_forever, daemon=True)
    thread.start()
    yield found
    found.shutdown()
    found.server_close()


def client_of(server: Server, **settings: object) -> SchemaRegistryClient:
    return SchemaRegistryClient(SchemaRegistryConfig(url=f"http://127.0.0.1:{server.server_port}", **settings))  # type: ignore[arg-type]


def test_each_answer_has_its_class(server: Server) -> None:
    server.answers = [
        (503, b'{"error_code": 50003, "message": "busy"}'),
        (500, b"oops"),
        (429, b"{}"),
        (404, b'{"error_code": 40403, "message": "Schema not found"}'),
        (401, b'{"error_code": 40101, "message": "Unauthorized"}'),
        (200, b'{"schema": "\\"string\\""}'),
    ]
    client = client_of(server, username="key", password=Secret("s3cret"))
    with pytest.raises(RetriableError, match="schema id 1: HTTP 503: 50003: busy"):
        client.schema(1)
    with pytest.raises(RetriableError, match="HTTP 500: oops"):
        client.schema(1)
    with pytest.raises(RetriableError, match="HTTP 429"):
        client.schema(1)
    with pytest.raises(DataError, match=r"the schema registry has no schema id 1 \(40403: Schema not found\)"):
        client.schema(1)
    with pytest.raises(FatalError, match="schema registry refused the credentials \\(HTTP 401\\)") as refused:
        client.schema(1)
    assert "s3cret" not in str(refused.value)
    found = client.schema(1)
    assert (found.schema_type, found.text, found.references) == ("AVRO", '"string"', ())
    assert server.seen[0] == ("/schemas/ids/1?format=serialized", "Basic a2V5OnMzY3JldA==")
    client.close()


def test_an_unreachable_registry_is_retriable() -> None:
    (port,) = free_ports(1)
    client = SchemaRegistryClient(SchemaRegistryConfig(url=f"http://127.0.0.1:{port}"))
    with pytest.raises(RetriableError, match=f"cannot reach http://127.0.0.1:{port} for schema id 3: ConnectionError"):
        client.schema(3)
    client.close()


def test_references_are_fetched_with_the_schema(schema_registry: SchemaRegistry, unique: str) -> None:
    def post(subject: str, body: dict[str, object]) -> int:
        request = urllib.request.Request(
            f"{schema_registry.url}/subjects/{subject}/versions",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(json.loads(answer.read())["id"])

    money = {
        "type": "record",
        "name": f"Money{unique}",
        "namespace": "shop",
        "fields": [{"name": "cents", "type": "long"}],
    }
    post(f"money-{unique}", {"schema": json.dumps(money)})
    order = {"type": "record", "name": "Order", "namespace": "shop",
             "fields": [{"name": "total", "type": f"shop.Money{unique}"}]}  # fmt: skip
    order_id = post(
        f"order-{unique}-value",
        {
            "schema": json.dumps(order),
            "references": [{"name": f"shop.Money{unique}", "subject": f"money-{unique}", "version": 1}],
        },
    )
    client = SchemaRegistryClient(SchemaRegistryConfig(url=schema_registry.url))
    found = client.schema(order_id)
    assert json.loads(found.text)["name"] == "Order"
    assert [(name, json.loads(ref.text)["name"]) for name, ref in found.references] == [
        (f"shop.Money{unique}", f"Money{unique}")
    ]
    client.close()


def test_subjects_and_their_latest_versions(schema_registry: SchemaRegistry, unique: str) -> None:
    subject = f"latest-{unique}-value"
    for name in ("a", "b"):
        record = {"type": "record", "name": "R", "fields": [{"name": name, "type": "long"}]}
        request = urllib.request.Request(
            f"{schema_registry.url}/subjects/{subject}/versions",
            data=json.dumps({"schema": json.dumps(record)}).encode(),
            headers={"Content-Type": "application/vnd.schemaregistry.v1+json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            last_id = int(json.loads(answer.read())["id"])
    client = SchemaRegistryClient(SchemaRegistryConfig(url=schema_registry.url))
    assert subject in client.subjects()
    latest = client.latest(subject)
    assert latest is not None
    assert (latest.subject, latest.version, latest.schema_id) == (subject, 2, last_id)
    assert json.loads(latest.schema.text)["fields"] == [{"name": "b", "type": "long"}]
    assert client.latest(f"nothing-{unique}-value") is None
    client.close()


def test_unexpected_subject_answers_are_fatal(server: Server) -> None:
    server.answers = [(200, b'{"subjects": []}'), (200, b'{"schema": "\\"long\\""}'), (503, b"busy")]
    client = client_of(server)
    with pytest.raises(FatalError, match="the subject list is not a list of names"):
        client.subjects()
    with pytest.raises(FatalError, match="subject s-value: no version or id in"):
        client.latest("s-value")
    with pytest.raises(RetriableError, match="subject s/v: HTTP 503"):
        client.latest("s/v")
    assert [path for path, _ in server.seen] == [
        "/subjects?format=serialized",
        "/subjects/s-value/versions/latest?format=serialized",
        "/subjects/s%2Fv/versions/latest?format=serialized",
    ]
    client.close()
