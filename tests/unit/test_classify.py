"""How Timeplus answers map to error classes (DESIGN.md §4): the code decides before the status."""

import orjson
import pytest

from connector.errors import FatalError, IngestRejected, RetriableError
from connector.timeplus import classify


def proton(code: int, message: str = "boom") -> bytes:
    return orjson.dumps({"error_msg": message, "code": code, "request_id": "r1"})


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (500, proton(516, "Authentication failed"), FatalError),
        (401, b"", FatalError),
        (404, proton(60, "Stream default.nope doesn't exist"), FatalError),
        (404, b"Not Found", FatalError),
        (500, proton(16, "No such column bogus"), FatalError),
        (400, proton(117, "Cannot parse JSON"), IngestRejected),
        (400, proton(27, "Cannot parse input"), IngestRejected),
        (400, proton(72, "Cannot parse number"), IngestRejected),
        (500, proton(376, "Cannot parse uuid"), IngestRejected),
        (500, proton(467, "Cannot parse bool"), IngestRejected),
        (500, proton(32, "Attempt to read after eof"), IngestRejected),
        (413, b"too large", IngestRejected),
        (500, b"internal error", RetriableError),
        (500, proton(999, "something transient"), RetriableError),
        (502, b"bad gateway", RetriableError),
        (503, b"", RetriableError),
        (504, b"", RetriableError),
        (429, b"slow down", RetriableError),
        (400, orjson.dumps({"code": 400, "message": "bad value for column id"}), IngestRejected),
        (418, b"", FatalError),
    ],
)
def test_classification(status: int, body: bytes, expected: type[Exception]) -> None:
    error = classify("orders", status, body, {})
    assert type(error) is expected, error
    assert "orders" in str(error) and f"HTTP {status}" in str(error)


def test_code_header_is_used_when_the_body_has_none() -> None:
    error = classify("s", 500, b"garbled", {"x-timeplus-exception-code": "516"})
    assert isinstance(error, FatalError)


def test_retry_after_is_honoured() -> None:
    error = classify("s", 429, b"", {"Retry-After": "7"})
    assert isinstance(error, RetriableError) and error.retry_after == 7.0
    error = classify("s", 503, b"", {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert isinstance(error, RetriableError) and error.retry_after is None


def test_rejection_carries_timeplus_message_and_code() -> None:
    error = classify("s", 400, proton(27, "Cannot parse input: expected '\"' before: 'abc'"), {})
    assert isinstance(error, IngestRejected)
    assert error.code == 27 and error.status == 400 and "Cannot parse input" in str(error)
