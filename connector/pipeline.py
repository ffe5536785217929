"""The consumer loop: messages → rows → batches → Timeplus → committed offsets.

The pipeline owns the delivery rules of DESIGN.md §3 through small roles, each with
one job, which ``build_pipeline`` makes from the config and passes in (as
confluent-kafka's async producer passes its executor into its batch manager):

- ``Intake`` (intake.py): the hot loop, messages → rows → per-stream batches;
- ``Sender`` (sender.py): delivery threads, retries, bisection of rejected batches;
- ``Settlement`` (settlement.py): the way back, settling each batch the Sender answered;
- ``OnError`` (on_error.py): each mapping's dlq / skip / fail;
- ``Assignment`` (assignment.py): rebalances and commits, by ``OffsetTracker``'s rule;
- ``Backpressure`` (backpressure.py) and ``CatchUp`` (catch_up.py, ``--until-caught-up``).

It is given a record source and an ingest sink (ports.py), so unit tests run it
against fakes and production runs it against Kafka and Timeplus with the same code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from connector.assignment import Assignment
from connector.backpressure import Backpressure
from connector.batching import BatchLimits
from connector.catch_up import CatchUp
from connector.config import REGISTRY_FORMATS, Config
from connector.errors import FatalError, RetriableError
from connector.exactly_once_intake import ExactlyOnceIntake, PartitionStates
from connector.intake import Intake
from connector.mapping import Decode, compile_mappers
from connector.offsets import OffsetTracker
from connector.on_error import OnError
from connector.outage import Outage
from connector.ports import DeadLetterSink, IngestSink, Metrics, NoMetrics, Progress, RecordSource, SchemaSource
from connector.registry_decoding import Backoff, RegistryDecoder
from connector.sender import RetryPolicy, Sender
from connector.settlement import Settlement
from connector.state import RunState, Stats

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Tuning:
    """Knobs of the loop that are not part of the user's YAML (yet)."""

    #: Messages per consume call; larger polls spread the loop's per-poll work (measured
    #: ~5% faster than 1,000 on a backlog) and do not add latency: consume returns what
    #: has arrived when its timeout, at most the next linger deadline, runs out.
    poll_messages: int = 5000
    poll_timeout_s: float = 0.05
    #: How often --until-caught-up reads the group's committed offsets.
    commit_interval_s: float = 1.0
    #: An asynchronous commit unanswered this long no longer holds the next one back.
    commit_answer_timeout_s: float = 10.0
    #: Overrides the config's max_buffered_bytes.
    max_buffered_bytes: int | None = None


def build_pipeline(
    config: Config,
    source: RecordSource,
    sink: IngestSink,
    *,
    dead_letters: DeadLetterSink | None = None,
    schemas: SchemaSource | None = None,
    until_caught_up: bool = False,
    tuning: Tuning | None = None,
    clock: Callable[[], float] = time.monotonic,
    metrics: Metrics | None = None,
    progress: Progress | None = None,
) -> Pipeline:
    """Make the pipeline's parts from ``config`` and compose them around ``source`` and ``sink``.

    ``metrics`` records what the run does (``connector.metrics`` serves it to Prometheus);
    by default nothing is recorded. ``progress`` shows the backlog of ``until_caught_up`` shrinking.
    ``schemas`` (the Schema Registry) is needed when a mapping reads avro, protobuf or json_schema.
    """
    tuning = tuning or Tuning()
    metrics = metrics or NoMetrics()
    stats, state = Stats(), RunState()
    decoders: dict[str, Decode] = {}
    registry_formats = {m.format for m in config.mappings if m.format in REGISTRY_FORMATS}
    if registry_formats:
        if schemas is None or config.schema_registry is None:
            raise FatalError(f"format {', '.join(sorted(registry_formats))} needs a schema registry")
        backoff = Backoff(config.schema_registry.retry_backoff_s, config.schema_registry.retry_backoff_max_s)
        registry = RegistryDecoder(schemas, backoff, stopping=lambda: state.stopping)
        decoders = dict.fromkeys(registry_formats, registry.decode)
    on_error = OnError(config.mappings, dead_letters, stats, state, metrics)
    mappers = compile_mappers(config.mappings)
    tracker = OffsetTracker()
    policy = RetryPolicy.from_config(config.timeplus)
    sender = Sender(
        sink,
        max_request_bytes=config.batch.max_bytes,
        workers=config.timeplus.max_in_flight,
        policy=policy,
        body_format=config.timeplus.body_format,
        clock=clock,
        metrics=metrics,
    )
    limits = BatchLimits(config.batch.max_rows, config.batch.max_bytes, config.batch.linger_ms / 1000)
    make_intake: Callable[..., Intake] = Intake
    if config.delivery == "exactly_once":
        # Chosen here, once: the at-least-once path carries no exactly-once branch.
        states = PartitionStates(
            source, config.mappings, window=config.batch.max_rows, max_in_flight=config.timeplus.max_in_flight
        )
        make_intake = partial(ExactlyOnceIntake, states=states)
    intake = make_intake(
        mappers,
        limits,
        max_message_bytes=config.max_message_bytes,
        tracker=tracker,
        sender=sender,
        on_error=on_error,
        stats=stats,
        metrics=metrics,
        decoders=decoders,
    )
    exactly_once = intake if isinstance(intake, ExactlyOnceIntake) else None
    settlement = Settlement(
        sender,
        intake,
        on_error=on_error,
        stats=stats,
        state=state,
        drain_timeout_s=config.drain_timeout_s,
        clock=clock,
        metrics=metrics,
    )
    assignment = Assignment(
        source,
        tracker,
        hand_back=settlement.hand_back,
        stats=stats,
        answer_timeout_s=tuning.commit_answer_timeout_s,
        clock=clock,
        exactly_once=exactly_once,
    )
    if exactly_once is not None:
        exactly_once.commit_cuts = partial(assignment.commit_now, unchanged=True)
        assignment.listen(exactly_once)
    max_buffered = tuning.max_buffered_bytes or config.max_buffered_bytes
    catch_up = None
    if until_caught_up:
        catch_up = CatchUp(
            source,
            assignment,
            subscribed=lambda topic: any(m.matches(topic) for m in config.mappings),
            interval_s=tuning.commit_interval_s,
            clock=clock,
            progress=progress,
            delivered=tracker.delivered,
            flush=intake.send_open,
        )
    return Pipeline(
        source,
        intake=intake,
        sender=sender,
        settlement=settlement,
        on_error=on_error,
        assignment=assignment,
        backpressure=Backpressure(sender, intake, assignment, max_buffered_bytes=max_buffered),
        catch_up=catch_up,
        stats=stats,
        state=state,
        topics=config.subscription(),
        tuning=tuning,
        clock=clock,
        metrics=metrics,
        # Kafka's transient failures get Timeplus's backoff, retried for as long as they last.
        kafka_outage=Outage("Kafka", policy),
    )


class Pipeline:
    """Runs the consumer loop until stopped, caught up, or a fatal error."""

    def __init__(
        self,
        source: RecordSource,
        *,
        intake: Intake,
        sender: Sender,
        settlement: Settlement,
        on_error: OnError,
        assignment: Assignment,
        backpressure: Backpressure,
        catch_up: CatchUp | None,
        stats: Stats,
        state: RunState,
        topics: list[str],
        tuning: Tuning,
        clock: Callable[[], float],
        metrics: Metrics | None = None,
        kafka_outage: Outage,
    ) -> None:
        self.stats = stats
        self._metrics = metrics or NoMetrics()
        self.tuning = tuning
        self._source = source
        self._intake = intake
        self._sender = sender
        self._settlement = settlement
        self._on_error = on_error
        self._assignment = assignment
        self._backpressure = backpressure
        self._catch_up = catch_up
        self._state = state
        self._topics = topics
        self._clock = clock
        self._kafka_outage = kafka_outage

    def stop(self) -> None:
        """Ask the loop to finish: await requests in flight, commit, close (safe from a signal handler)."""
        self._state.stop()

    def run(self) -> Stats:
        """Consume until stopped or caught up; raise FatalError on a fatal failure."""
        assignment, state = self._assignment, self._state
        assignment.subscribe(self._topics)
        try:
            while not state.stopping:
                try:
                    self._step()
                    done = self._catch_up if self._catch_up is not None and self._catch_up.reached() else None
                except RetriableError as exc:
                    # Only the record source raises these here (the Sender's come back as
                    # outcomes, the dead letters retry their own), before it changed anything:
                    # the next step asks again, after the backoff Timeplus's failures get.
                    self._back_off(self._kafka_outage.failed(exc))
                    self._beat(self._clock())  # the loop is alive, waiting for Kafka on purpose
                    continue
                self._kafka_outage.answered()
                if done is not None:
                    done.report_final()
                    log.info("caught up with the end offsets seen at assignment; stopping")
                    break
        finally:
            state.stop()
            try:
                # Rows not sent yet are left to the next run; requests in flight are awaited
                # (up to drain_timeout_s), then what they delivered is committed.
                assignment.stop()
            finally:
                # Closing the consumer revokes its partitions: that revoke commits again only
                # what the commit above could not (the group was rebalancing), in the
                # generation that gives them up. Requests still unanswered are abandoned, not
                # awaited, so the whole stop stays within drain_timeout_s.
                assignment.close()
                self._sender.close()
                self._source.close()
                self._beat(self._clock())  # the commits of the stop and the revoke count too
                self._log_summary()
        if state.fatal is not None:
            raise state.fatal
        return self.stats

    def _back_off(self, seconds: float) -> None:
        """Wait ``seconds`` before asking Kafka again; a stop request ends the wait."""
        deadline = time.monotonic() + seconds
        while not self._state.stopping and time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    def _step(self) -> None:
        self._on_error.poll()
        # Wake up in time for the next linger deadline, so latency stays near linger_ms.
        timeout = self._intake.wait_s(self.tuning.poll_timeout_s, self._clock())
        if self._catch_up is not None and self._catch_up.awaiting_delivery:
            # The backlog is read: wake up when Timeplus answers, not when no message came.
            self._settlement.collect(timeout)
            timeout = 0.0
        else:
            self._settlement.collect()
        if self._state.fatal is not None:
            raise self._state.fatal
        self._backpressure.apply()
        wanted = self.tuning.poll_messages
        if self._catch_up is not None and self._catch_up.unread_messages is not None:
            wanted = min(wanted, self._catch_up.unread_messages)
        messages = self._source.consume(wanted, timeout)
        now = self._clock()
        if messages:
            try:
                self._intake.process(messages, now)
            except RetriableError:
                # Asked to stop while the schema registry was down: the poll was not mapped,
                # so none of it is committed; the loop ends and the run drains what it has.
                if not self._state.stopping:
                    raise
                return
        self._intake.send_due(now)
        self._assignment.tick(now)
        self._beat(now)

    def _beat(self, now: float) -> None:
        assignment = self._assignment
        self._metrics.beat(
            now,
            assigned=len(assignment.assigned),
            paused=len(assignment.assigned) if assignment.paused else 0,
            buffered_bytes=self._sender.in_flight_bytes + self._intake.buffered_bytes,
            commits=self.stats.commits,
        )

    def _log_summary(self) -> None:
        stats = self.stats
        log.info(
            "stopped: %d messages, %d rows in %d batches, %d rejected rows, %d dead letters, "
            "%d skipped, %d commits; consume-to-ack latency %s",
            stats.messages,
            stats.rows,
            stats.batches,
            stats.rejected_rows,
            stats.dead_letters,
            stats.skipped,
            stats.commits,
            stats.latency.summary(),
        )
