"""``kafka-timeplus``: the command line. The only place that turns errors into exit codes."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING

from connector import __version__
from connector.config import Config, load_config, parse_listen
from connector.errors import ConfigError, ConnectorError, FatalError

if TYPE_CHECKING:
    from connector.metrics import PrometheusMetrics
    from connector.progress import LineProgress, TerminalProgress
    from connector.status_server import StatusServer

log = logging.getLogger("connector")

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_CONFIG = 2


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = argparse.ArgumentParser(prog="kafka-timeplus", description="Move Kafka topics into Timeplus streams.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="consume and deliver until SIGTERM/SIGINT")
    run.add_argument("-c", "--config", required=True, help="YAML config file")
    run.add_argument(
        "--until-caught-up",
        action="store_true",
        help="stop once every assigned partition reached its end offset at start-up and all is committed",
    )
    run.add_argument(
        "--http",
        metavar="ADDR",
        help="serve /metrics, /healthz and /readyz on [host]:port, e.g. :9108 (overrides http.listen)",
    )
    check = commands.add_parser("check", help="validate a config file and exit")
    check.add_argument("-c", "--config", required=True, help="YAML config file")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=args.log_level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = load_config(args.config)
        if args.command == "check":
            # load_config checked everything, defaults and constants included, in one pass.
            print(f"{args.config}: OK ({len(config.mappings)} mapping(s))")
            return EXIT_OK
        return _run(config, until_caught_up=args.until_caught_up, http=args.http)
    except ConfigError as exc:
        print(f"kafka-timeplus: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except FatalError as exc:
        print(f"kafka-timeplus: fatal: {exc}", file=sys.stderr)
        return EXIT_FATAL
    except ConnectorError as exc:
        print(f"kafka-timeplus: error: {exc}", file=sys.stderr)
        return EXIT_FATAL


def tune_gc() -> None:
    """The collector settings of a running connector (the benchmark's in-process stages use them too).

    Rows and messages held in batches are long-lived containers: with the default
    thresholds the cyclic GC rescans them thousands of times a second (~20% of the
    hot path). Nothing here relies on cycle collection promptly; freeze the start-up
    heap and collect far less often.
    """
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)


def _run(config: Config, *, until_caught_up: bool, http: str | None) -> int:
    # Imported here so `check` works without touching Kafka or HTTP libraries.
    from connector.kafka_dead_letters import open_dead_letters
    from connector.kafka_source import KafkaSource
    from connector.pipeline import build_pipeline
    from connector.sender import RetryPolicy
    from connector.timeplus import TimeplusClient

    listen = http or config.http.listen
    metrics, server = _status_server(config, listen) if listen else (None, None)
    client = TimeplusClient(config.timeplus)
    dlq_topics = {m.dlq_topic for m in config.mappings if m.dlq_topic is not None and m.on_error == "dlq"}
    dead_letters = None
    if dlq_topics:
        # Checks the topics' max.message.bytes first: a FatalError here stops before anything is read.
        dead_letters = open_dead_letters(
            config.kafka,
            dlq_topics,
            max_message_bytes=config.max_message_bytes,
            backoff=RetryPolicy.from_config(config.timeplus),
        )
    source = KafkaSource(config.kafka, on_statistics=metrics.kafka_statistics if metrics else None)
    progress = _progress() if until_caught_up else None
    pipeline = build_pipeline(
        config,
        source,
        client,
        dead_letters=dead_letters,
        until_caught_up=until_caught_up,
        metrics=metrics,
        progress=progress,
    )

    def request_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: flushing, committing and stopping", signal.Signals(signum).name)
        pipeline.stop()

    tune_gc()
    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        if server is not None:
            server.start()
        pipeline.run()
    finally:
        client.close()
        if server is not None:
            server.close()
        if progress is not None:
            progress.close()
    return EXIT_OK


def _progress() -> LineProgress | TerminalProgress:
    """``--until-caught-up``'s progress: bars on a terminal, a line every few seconds elsewhere."""
    from connector.progress import progress_for

    return progress_for(sys.stderr)


def _status_server(config: Config, listen: str) -> tuple[PrometheusMetrics, StatusServer]:
    """The metrics recorder and the HTTP server that serves it (``run --http`` / ``http.listen``)."""
    from connector.metrics import PrometheusMetrics
    from connector.status_server import StatusServer

    try:
        parse_listen(listen)
    except ValueError as exc:
        raise ConfigError([f"--http: {exc}"]) from None
    # A revoke's drain holds the loop for up to drain_timeout_s: that is no stall.
    metrics = PrometheusMetrics(
        readiness_grace_s=config.http.readiness_grace_s, liveness_timeout_s=config.drain_timeout_s + 30
    )
    return metrics, StatusServer(listen, metrics)


if __name__ == "__main__":
    sys.exit(main())
