"""An error answer is a row rejection only when Timeplus itself says so (DESIGN.md §2, §4).

Timeplus names every rejection with an error code, in the JSON body (Proton's ``code``,
the app server's ``code``) or in the ``x-timeplus-exception-code`` header. A 400 without
one comes from something between the connector and Timeplus (a proxy, a gateway, a WAF):
it is no evidence that the rows are bad, so it must not split the batch and dead-letter them.
"""

import orjson
import pytest

from connector.errors import IngestRejected, RetriableError
from connector.timeplus import classify

NGINX_400 = b"<html><head><title>400 Bad Request</title></head><body><h1>400 Bad Request</h1>nginx</body></html>"


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (NGINX_400, {"Content-Type": "text/html"}),
        (b"Bad Request\n", {"Content-Type": "text/plain"}),
        (b"", {}),
        (orjson.dumps({"message": "invalid request"}), {"Content-Type": "application/json"}),
    ],
    ids=["html", "plain", "empty", "json-without-code"],
)
def test_a_400_without_a_timeplus_code_is_retriable(body: bytes, headers: dict[str, str]) -> None:
    error = classify("orders", 400, body, headers)
    assert type(error) is RetriableError, error
    assert "HTTP 400" in str(error) and "orders" in str(error)


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (orjson.dumps({"error_msg": "Cannot parse input", "code": 27, "request_id": "r"}), {}),
        (orjson.dumps({"code": 400, "message": "bad value for column id"}), {}),  # the app server's form
        (b"Cannot parse input", {"x-timeplus-exception-code": "27"}),
    ],
    ids=["proton", "app-server", "header"],
)
def test_a_400_from_timeplus_is_still_a_rejection(body: bytes, headers: dict[str, str]) -> None:
    assert type(classify("orders", 400, body, headers)) is IngestRejected
