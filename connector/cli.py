"""``kafka-timeplus``: the command line. The only place that turns errors into exit codes."""

from __future__ import annotations

import argparse
import gc
import logging
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any

from connector import __version__, preflight
from connector.config import REGISTRY_FORMATS, Config, load_config, parse_listen
from connector.decoding import decode_value
from connector.errors import ConfigError, ConnectorError, FatalError
from connector.findings import Finding, Level, findings_table, problems
from connector.logs import FORMATS, setup_logging
from connector.preview import preview, preview_tables
from connector.stream_schema import implied_streams

if TYPE_CHECKING:
    from connector.metrics import PrometheusMetrics
    from connector.progress import LineProgress, TerminalProgress
    from connector.registry_types import Derived
    from connector.status_server import StatusServer

log = logging.getLogger("connector")

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_CONFIG = 2
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    args = _parser().parse_args(argv)
    setup_logging(args.log_level, args.log_format)
    try:
        config = load_config(args.config)
        if args.command == "validate":
            # load_config checked everything, defaults and constants included, in one pass.
            print(f"{args.config}: OK ({len(config.mappings)} mapping(s))")
            return EXIT_OK
        if args.command == "check":
            return _check(config)
        if args.command == "create-streams":
            return _create_streams(config, dry_run=args.dry_run)
        if args.command == "preview":
            return _preview(config, args.messages)
        if args.workers > 1:
            return _run_workers(config, args.workers, sys.argv[1:] if argv is None else argv, http=args.http)
        return _run(config, until_caught_up=args.until_caught_up, http=args.http, check=not args.no_check)
    except ConfigError as exc:
        print(f"kafka-timeplus: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except FatalError as exc:
        print(f"kafka-timeplus: fatal: {exc}", file=sys.stderr)
        return EXIT_FATAL
    except ConnectorError as exc:
        print(f"kafka-timeplus: error: {exc}", file=sys.stderr)
        return EXIT_FATAL


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kafka-timeplus", description="Move Kafka topics into Timeplus streams.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--log-level", default="INFO", choices=LEVELS)
    parser.add_argument("--log-format", default="text", choices=FORMATS, help="json: one object per line")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_run(commands.add_parser("run", help="consume and deliver until SIGTERM/SIGINT"))
    commands.add_parser("validate", help="validate a config file offline, every problem at once (exit 2)")
    commands.add_parser("check", help="check the config against Kafka and Timeplus; a table of findings (exit 1)")
    create = commands.add_parser("create-streams", help="create the streams the mappings imply")
    create.add_argument("--dry-run", action="store_true", help="print the CREATE STREAM statements only")
    preview = commands.add_parser("preview", help="map the newest messages without joining the group")
    preview.add_argument("--messages", type=_positive, default=10, metavar="N", help="per partition (default 10)")
    for command in commands.choices.values():
        command.add_argument("-c", "--config", required=True, help="YAML config file")
        # Also accepted after the command; SUPPRESS keeps the value given before it otherwise.
        command.add_argument("--log-level", default=argparse.SUPPRESS, choices=LEVELS)
        command.add_argument("--log-format", default=argparse.SUPPRESS, choices=FORMATS)
    return parser


def _add_run(run: argparse.ArgumentParser) -> None:
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
    run.add_argument("--no-check", action="store_true", help="start without checking Kafka and Timeplus first")
    run.add_argument(
        "--workers",
        type=_positive,
        default=1,
        metavar="N",
        help="run N processes in the consumer group (one per core; --http ports are ADDR's port + 0..N-1)",
    )


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _check(config: Config) -> int:
    findings = _online_findings(config, registry=True)
    print(findings_table(findings))
    return EXIT_FATAL if problems(findings) else EXIT_OK


def _online_findings(config: Config, *, raise_fatal: bool = False, registry: bool = False) -> list[Finding]:
    """``registry``: give untyped registry columns their schemas' types (``check``; ``run`` waits the registry out)."""
    from connector.kafka_admin import KafkaInspector
    from connector.schema_registry import SchemaRegistryClient
    from connector.timeplus import TimeplusClient
    from connector.timeplus_admin import TimeplusAdmin

    kafka = KafkaInspector(config.kafka)
    client = TimeplusClient(config.timeplus)
    schemas = SchemaRegistryClient(config.schema_registry) if registry and config.schema_registry else None
    try:
        admin = TimeplusAdmin(client, config.timeplus)
        return preflight.check(config, kafka, admin, raise_fatal=raise_fatal, registry=schemas)
    finally:
        kafka.close()
        client.close()
        if schemas is not None:
            schemas.close()


def _create_streams(config: Config, *, dry_run: bool) -> int:
    from connector.timeplus import TimeplusClient
    from connector.timeplus_admin import TimeplusAdmin

    derived = _derived_types(config)
    streams = implied_streams(config.mappings, derived.types)
    unusable = [f"{where}: {why}" for where, why in derived.problems]
    unusable += [f"stream {s.name}: {c}" for s in streams for c in s.conflicts]
    for stream in streams:
        try:
            print(stream.create_sql() + ";")
        except ValueError as exc:
            unusable.append(str(exc))
    if unusable:
        print("kafka-timeplus: cannot create the streams:\n  " + "\n  ".join(unusable), file=sys.stderr)
        return EXIT_FATAL
    if dry_run:
        return EXIT_OK
    client = TimeplusClient(config.timeplus)
    try:
        admin = TimeplusAdmin(client, config.timeplus)
        for stream in streams:
            if admin.describe(stream.name) is not None:
                print(f"-- {stream.name}: exists, left as it is (kafka-timeplus check compares its columns)")
            else:
                admin.create(stream)
                print(f"-- {stream.name}: created")
    finally:
        client.close()
    return EXIT_OK


def _derived_types(config: Config) -> Derived:
    """The types registered schemas give the untyped columns of registry mappings (none without a registry)."""
    from connector.registry_types import Derived, derive, needs_types

    if config.schema_registry is None or not any(needs_types(m) for m in config.mappings):
        return Derived(tuple({} for _ in config.mappings))
    from connector.schema_registry import SchemaRegistryClient

    schemas = SchemaRegistryClient(config.schema_registry)
    try:
        return derive(config.mappings, schemas)
    finally:
        schemas.close()


def _preview(config: Config, per_partition: int) -> int:
    from connector.kafka_admin import KafkaInspector

    kafka = KafkaInspector(config.kafka)
    schemas = None
    decode = decode_value
    if config.schema_registry is not None:
        from connector.registry_decoding import Backoff, RegistryDecoder
        from connector.schema_registry import SchemaRegistryClient

        schemas = SchemaRegistryClient(config.schema_registry)
        registry = RegistryDecoder(schemas, Backoff(0.1, 1.0), stopping=lambda: True)  # preview does not wait

        def decode(value: bytes | None, fmt: str) -> Any:
            return registry.decode(value, fmt) if fmt in REGISTRY_FORMATS else decode_value(value, fmt)

    try:
        result = preview(config, kafka, per_partition, decode)
    finally:
        kafka.close()
        if schemas is not None:
            schemas.close()
    print(f"{result.messages} message(s) read, the newest {per_partition} of each partition; nothing sent or committed")
    print(preview_tables(result))
    if result.missing_topics:
        print(f"kafka-timeplus: topic(s) not found: {', '.join(result.missing_topics)}", file=sys.stderr)
        return EXIT_FATAL
    return EXIT_OK


def tune_gc() -> None:
    """The collector settings of a running connector (the benchmark's in-process stages use them too).

    Rows and messages held in batches are long-lived containers: with the default
    thresholds the cyclic GC rescans them thousands of times a second (~20% of the
    hot path). Nothing here relies on cycle collection promptly; freeze the start-up
    heap and collect far less often.
    """
    gc.freeze()
    gc.set_threshold(100_000, 50, 1000)


def _run(config: Config, *, until_caught_up: bool, http: str | None, check: bool) -> int:
    if check:
        findings = _online_findings(config, raise_fatal=True)  # refused credentials: one fatal line
        if problems(findings):
            print("kafka-timeplus: not starting: the config does not fit Kafka or Timeplus", file=sys.stderr)
            print(findings_table(findings), file=sys.stderr)
            return EXIT_FATAL
        for finding in findings:
            if finding.level is Level.WARNING:
                log.warning("check: %s %s: %s", finding.check, finding.subject, finding.detail)
    # Imported here so `validate` works without touching Kafka or HTTP libraries.
    from connector.kafka_dead_letters import open_dead_letters
    from connector.kafka_source import KafkaSource
    from connector.pipeline import build_pipeline
    from connector.schema_registry import SchemaRegistryClient
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
    schemas = SchemaRegistryClient(config.schema_registry) if config.schema_registry else None
    pipeline = build_pipeline(
        config,
        source,
        client,
        dead_letters=dead_letters,
        schemas=schemas,
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
        if schemas is not None:
            schemas.close()
    return EXIT_OK


def _run_workers(config: Config, workers: int, argv: list[str], *, http: str | None) -> int:
    """``run --workers N``: N ``run`` processes with these arguments in one group (connector.workers)."""
    from connector.workers import Supervisor, worker_argv

    listen = http or config.http.listen
    if listen:
        try:
            parse_listen(listen)
        except ValueError as exc:
            raise ConfigError([f"--http: {exc}"]) from None
    commands = [[sys.executable, "-m", "connector.cli", *worker_argv(argv, i, listen)] for i in range(workers)]
    supervisor = Supervisor(commands, stop_timeout_s=config.drain_timeout_s + 30)
    supervisor.handle_signals()
    return supervisor.run()


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
