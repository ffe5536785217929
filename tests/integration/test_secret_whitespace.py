"""A secret read from a mounted file (with its trailing newline) still authenticates, and never shows (issue 11).

Config → TimeplusClient → the emulator checking credentials as Timeplus does. Before
the fix the padded API key made requests raise InvalidHeader, classified retriable
(retried forever), with the key in the warning.
"""

from __future__ import annotations

import logging
import textwrap
import traceback

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.config import parse_config
from connector.errors import ConnectorError, FatalError
from connector.timeplus import TimeplusClient
from sandbox.timeplus_emulator import TimeplusEmulator
from sandbox.timeplus_emulator.auth import Auth
from tests.support.emulator_http import compact

MARK_A, MARK_B = "ZQXJ", "JXQZ"
# What a key or password looks like inside: visible ASCII, inner spaces allowed.
inner = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=24)
padding = st.sampled_from(["", "\n", "\r\n", " ", "\t", " \n", "\n\n"])


def config_for(url: str, auth: str, workspace: str | None) -> str:
    text = f"""
        kafka: {{bootstrap.servers: 'k:9092'}}
        timeplus: {{url: '{url}', {auth}, timeout_s: 5{", workspace: " + workspace if workspace else ""}}}
        mappings: [{{topic: a, stream: s, columns: {{v: value}}}}]
    """
    return textwrap.dedent(text)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(middle=inner, before=padding, after=padding, kind=st.sampled_from(["api_key", "password"]))
def test_a_padded_secret_authenticates_and_is_never_shown(
    middle: str, before: str, after: str, kind: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = MARK_A + middle + MARK_B
    if kind == "api_key":
        auth, workspace, fields = Auth.api_key(secret), "default", "api_key: '${S}'"
    else:
        auth, workspace, fields = Auth.basic("alice", secret), None, "username: alice, password: '${S}'"
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    with TimeplusEmulator(auth=auth, workspace="default") as emulator:
        emulator.create_stream("s", [("v", "int64")])
        config = parse_config(config_for(emulator.url, fields, workspace), env={"S": before + secret + after})
        client = TimeplusClient(config.timeplus)
        try:
            client.ingest("s", compact(["v"], [[1]]))
        finally:
            client.close()
        assert emulator.count("s") == 1
    shown = repr(config) + repr(client) + "".join(r.getMessage() for r in caplog.records)
    assert MARK_A not in shown and MARK_B not in shown


@pytest.mark.parametrize("padded", [f"{MARK_A}-key-{MARK_B}\n", f" {MARK_A}-key-{MARK_B}"])
def test_a_wrong_padded_key_is_fatal_and_never_shown(padded: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with TimeplusEmulator(auth=Auth.api_key("the-right-key"), workspace="default") as emulator:
        emulator.create_stream("s", [("v", "int64")])
        config = parse_config(config_for(emulator.url, "api_key: '${S}'", "default"), env={"S": padded})
        client = TimeplusClient(config.timeplus)
        try:
            with pytest.raises(ConnectorError) as info:
                client.ingest("s", compact(["v"], [[1]]))
        finally:
            client.close()
    assert isinstance(info.value, FatalError), f"{type(info.value).__name__} would be retried forever"
    shown = "".join(traceback.format_exception(info.value)) + "".join(r.getMessage() for r in caplog.records)
    assert MARK_A not in shown and MARK_B not in shown
