"""A request requests refuses to build is fatal, and its error never shows the secret in it.

Each case fails inside requests/http.client before a connection is opened (the port is
never reached), so this stays in the unit tier. The config already refuses such values
(tests/unit/test_config_edges.py); the adapter must not rely on that alone.
"""

from __future__ import annotations

import logging
import traceback

import pytest

from connector.config import Secret, TimeplusConfig
from connector.errors import FatalError
from connector.timeplus import TimeplusClient

MARK = "KEYMARK"
NOWHERE = "http://127.0.0.1:9"  # discard port: nothing listens, and nothing may be sent


@pytest.mark.parametrize(
    "config",
    [
        TimeplusConfig(url=NOWHERE, api_key=Secret(f"{MARK}-abc\n")),
        TimeplusConfig(url=NOWHERE, api_key=Secret(f" {MARK}-abc")),
        TimeplusConfig(url=NOWHERE, api_key=Secret(f"{MARK}\r\nX-Injected: 1")),
        TimeplusConfig(url=NOWHERE, api_key=Secret(f"ключ-{MARK}")),
        TimeplusConfig(url="http://127.0.0.1:99999"),
    ],
    ids=["trailing-newline", "leading-space", "header-injection", "not-latin-1", "port-out-of-range"],
)
def test_a_request_that_cannot_be_built_is_fatal_and_shows_no_secret(
    config: TimeplusConfig, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = TimeplusClient(config)
    try:
        with pytest.raises(FatalError) as info:
            client.ingest("s", b'{"columns":["v"],"data":[[1]]}')
    finally:
        client.close()
    shown = "".join(traceback.format_exception(info.value)) + repr(info.value) + repr(client)
    shown += "".join(record.getMessage() for record in caplog.records)
    assert MARK not in shown, shown
    assert "timeplus" in str(info.value), "the message points at the config section to check"
