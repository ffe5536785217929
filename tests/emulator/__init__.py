"""Tests of the Timeplus emulator: every behaviour, every error case, real clients."""
