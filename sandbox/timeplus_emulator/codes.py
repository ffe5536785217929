"""Proton error codes and the HTTP status each one is answered with.

Numbers come from Proton's ``src/Common/ErrorCodes.cpp``. Two status tables exist in
Proton's history, and they disagree on a few codes that matter to clients:

* ``legacy`` — the private ``exceptionCodeToHTTPStatus`` of
  ``src/Server/RestHTTPRequestHandler.cpp`` (Proton 1.x). DESIGN.md §4 describes this
  one: wrong credentials (516), bad uuid (376), bad bool (467) are HTTP 500.
* ``shared`` — ``src/Server/HTTP/exceptionCodeToHTTPStatus.cpp``, which the newest
  ``RestHTTPRequestHandler.cpp`` includes: 516 becomes 403, 376 becomes 400, ...

The emulator answers with ``legacy`` unless told otherwise, so a client that reads the
status instead of the code is caught; running the same test under both proves it.
"""

from __future__ import annotations

from typing import Literal

StatusMap = Literal["legacy", "shared"]

CANNOT_PARSE_TEXT = 6
DUPLICATE_COLUMN = 15
NO_SUCH_COLUMN_IN_STREAM = 16
CANNOT_PARSE_INPUT_ASSERTION_FAILED = 27
ATTEMPT_TO_READ_AFTER_EOF = 32
BAD_ARGUMENTS = 36
ILLEGAL_TYPE_OF_ARGUMENT = 43
CANNOT_PARSE_DATE = 38
CANNOT_PARSE_DATETIME = 41
UNKNOWN_TYPE = 50
TYPE_MISMATCH = 53
STREAM_ALREADY_EXISTS = 57
UNKNOWN_STREAM = 60
SYNTAX_ERROR = 62
ARGUMENT_OUT_OF_BOUND = 69
CANNOT_PARSE_NUMBER = 72
UNKNOWN_TYPE_OF_QUERY = 78
UNKNOWN_COMPRESSION_METHOD = 89
INCORRECT_DATA = 117
TOO_LARGE_STRING_SIZE = 131
READONLY = 164
ZLIB_INFLATE_FAILED = 354
CANNOT_PARSE_UUID = 376
BAD_REQUEST_PARAMETER = 408
CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING = 441
CANNOT_PARSE_BOOL = 467
AUTHENTICATION_FAILED = 516

NAMES = {
    CANNOT_PARSE_TEXT: "CANNOT_PARSE_TEXT",
    DUPLICATE_COLUMN: "DUPLICATE_COLUMN",
    NO_SUCH_COLUMN_IN_STREAM: "NO_SUCH_COLUMN_IN_STREAM",
    CANNOT_PARSE_INPUT_ASSERTION_FAILED: "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
    ATTEMPT_TO_READ_AFTER_EOF: "ATTEMPT_TO_READ_AFTER_EOF",
    BAD_ARGUMENTS: "BAD_ARGUMENTS",
    ILLEGAL_TYPE_OF_ARGUMENT: "ILLEGAL_TYPE_OF_ARGUMENT",
    CANNOT_PARSE_DATE: "CANNOT_PARSE_DATE",
    CANNOT_PARSE_DATETIME: "CANNOT_PARSE_DATETIME",
    UNKNOWN_TYPE: "UNKNOWN_TYPE",
    TYPE_MISMATCH: "TYPE_MISMATCH",
    STREAM_ALREADY_EXISTS: "STREAM_ALREADY_EXISTS",
    UNKNOWN_STREAM: "UNKNOWN_STREAM",
    SYNTAX_ERROR: "SYNTAX_ERROR",
    ARGUMENT_OUT_OF_BOUND: "ARGUMENT_OUT_OF_BOUND",
    CANNOT_PARSE_NUMBER: "CANNOT_PARSE_NUMBER",
    UNKNOWN_TYPE_OF_QUERY: "UNKNOWN_TYPE_OF_QUERY",
    UNKNOWN_COMPRESSION_METHOD: "UNKNOWN_COMPRESSION_METHOD",
    INCORRECT_DATA: "INCORRECT_DATA",
    TOO_LARGE_STRING_SIZE: "TOO_LARGE_STRING_SIZE",
    READONLY: "READONLY",
    ZLIB_INFLATE_FAILED: "ZLIB_INFLATE_FAILED",
    CANNOT_PARSE_UUID: "CANNOT_PARSE_UUID",
    BAD_REQUEST_PARAMETER: "BAD_REQUEST_PARAMETER",
    CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING: "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING",
    CANNOT_PARSE_BOOL: "CANNOT_PARSE_BOOL",
    AUTHENTICATION_FAILED: "AUTHENTICATION_FAILED",
}

# RestHTTPRequestHandler.cpp (Proton 1.x): everything not listed is 500.
_LEGACY_400 = frozenset({6, 25, 26, 27, 37, 38, 41, 53, 62, 72, 117, 123, 167, 168, 223})
_LEGACY_404 = frozenset({46, 47, 50, 56, 60, 63, 73, 78, 81, 115, 152, 336})

# Server/HTTP/exceptionCodeToHTTPStatus.cpp (newest Proton). 675/676 are the IPv4/IPv6
# parse codes of that generation; the emulator itself raises 441 for both.
_SHARED_400 = frozenset(
    {6, 8, 15, 25, 26, 27, 36, 37, 38, 41, 44, 53, 62, 72, 117, 123, 167, 168, 223, 321} | {376, 427, 441, 675, 676}
)
_SHARED_403 = frozenset({192, 193, 512, 516})
_SHARED_404 = frozenset({46, 47, 50, 56, 60, 63, 73, 78, 81, 115, 152, 336, 511})

# Both tables agree on these.
_COMMON = {194: 401, 229: 413, 48: 501, 209: 503, 76: 503, 381: 411}


def http_status(code: int, status_map: StatusMap) -> int:
    """The HTTP status Proton answers an exception with ``code``."""
    if code in _COMMON:
        return _COMMON[code]
    if status_map == "legacy":
        if code in _LEGACY_400:
            return 400
        if code in _LEGACY_404:
            return 404
        return 500
    if code in _SHARED_400:
        return 400
    if code in _SHARED_403:
        return 403
    if code in _SHARED_404:
        return 404
    if code == 439:
        return 503
    if code == 159:
        return 408
    return 500


class ProtonError(Exception):
    """An exception Proton would raise: a code, a message, and optionally a fixed status.

    ``status`` is set where a Proton handler picks the status itself instead of
    deriving it from the code (e.g. IngestRestRouterHandler answers 400 for 117).
    """

    def __init__(self, code: int, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def status_for(self, status_map: StatusMap) -> int:
        """The HTTP status of this error under ``status_map``."""
        return self.status if self.status is not None else http_status(self.code, status_map)


class AppServerError(Exception):
    """An error the Enterprise/Cloud app server raises itself, before reaching timeplusd."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
