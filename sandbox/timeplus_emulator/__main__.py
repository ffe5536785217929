"""``python -m sandbox.timeplus_emulator --port N --streams FILE``: run until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
import threading

from .auth import Auth
from .emulator import TimeplusEmulator
from .streams_file import StreamsFileError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m sandbox.timeplus_emulator",
        description="A Timeplus ingest emulator (sandbox/timeplus_emulator/BEHAVIOUR.md says what it does).",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3218, help="port (0: any free port; default 3218)")
    parser.add_argument("--streams", metavar="FILE", help="YAML or JSON file of streams to create")
    parser.add_argument(
        "--auth", default="none", help="none | basic:USER:PASS | apikey:KEY | headers:USER:KEY (default none)"
    )
    parser.add_argument("--workspace", default="default", help="workspace of the app-server routes")
    parser.add_argument("--bounded", action="store_true", help="keep counts and digests only (benchmarks)")
    parser.add_argument(
        "--status-map", choices=("legacy", "shared"), default="legacy", help="Proton's error-status table"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, format="%(asctime)s %(message)s")
    try:
        auth = Auth.parse(args.auth)
        emulator = TimeplusEmulator(
            args.host,
            args.port,
            auth,
            args.workspace,
            args.bounded,
            status_map=args.status_map,
            streams_file=args.streams,
        )
    except (ValueError, StreamsFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    # A dedicated server process: parsing a 4 MB body allocates ~100k lists, and the
    # default GC thresholds would run collections dozens of times per request (~30% cost).
    gc.set_threshold(50_000, 20, 100)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        emulator.start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    streams = ", ".join(emulator.streams()) or "none"
    print(f"Timeplus emulator listening on {emulator.url} (auth {auth.kind}, streams: {streams})", flush=True)
    stop.wait()
    emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
