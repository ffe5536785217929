"""Fixtures: an emulator started in-process on a free port, and an HTTP session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from sandbox.timeplus_emulator import TimeplusEmulator
from tests.support.emulator_http import ORDERS


@pytest.fixture
def emu() -> Iterator[TimeplusEmulator]:
    """A fresh emulator (no auth, workspace 'default') with an ``orders`` stream."""
    with TimeplusEmulator() as emulator:
        emulator.create_stream("orders", ORDERS)
        yield emulator


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session
