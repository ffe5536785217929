"""Plain helpers shared by the test tiers; fixtures stay in the conftest files.

``services`` talks to the real broker and runs the connector CLI, ``faults`` holds the
fault-injection pieces built on it, and ``emulator_http`` speaks raw HTTP to the emulator.
"""
