"""A Timeplus ingest emulator honest enough to catch real bugs (BEHAVIOUR.md says what it does).

Run it in-process from tests::

    with TimeplusEmulator(auth=Auth.basic("u", "p")) as emu:
        emu.create_stream("orders", [("id", "int64"), ("name", "string")])
        ...  # point the client at emu.url
        assert emu.count("orders") == 2

or as a server: ``python -m sandbox.timeplus_emulator --port 3218 --streams streams.yaml``.
"""

from __future__ import annotations

from .auth import Auth
from .codes import ProtonError, StatusMap
from .emulator import TimeplusEmulator
from .faults import FaultAction, Faults
from .store import RequestLog
from .streams_file import StreamsFileError
from .types import ValueRejected, parse_type

__all__ = [
    "Auth",
    "FaultAction",
    "Faults",
    "ProtonError",
    "RequestLog",
    "StatusMap",
    "StreamsFileError",
    "TimeplusEmulator",
    "ValueRejected",
    "parse_type",
]
