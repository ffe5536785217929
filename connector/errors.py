"""The connector's exception tree: one root, three classes of failure.

Every failure the connector meets is one of:

* ``RetriableError`` — the same action may succeed later (network error, timeout,
  429, 5xx without a data or auth code). Policy: back off and retry.
* ``FatalError`` — retrying cannot help (bad config, auth failure, unknown stream or
  column). Policy: stop with a non-zero exit code and commit nothing past undelivered rows.
* ``DataError`` — one message (or one row) is bad. Policy: per mapping ``on_error``.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Root of every exception the connector raises on purpose."""


class RetriableError(ConnectorError):
    """A transient failure: the same action may succeed later."""

    def __init__(self, message: str, *, retry_after: float | None = None, reason: str = "other") -> None:
        super().__init__(message)
        self.retry_after = retry_after
        #: A short label for metrics: ``timeout``, ``unreachable``, ``http_503``, ...
        self.reason = reason


class FatalError(ConnectorError):
    """A failure that retrying cannot fix; the process must stop."""


class ConfigError(FatalError):
    """The configuration file is invalid; ``problems`` lists every error found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("invalid configuration:\n  " + "\n  ".join(self.problems))


class DataError(ConnectorError):
    """One message or row cannot be delivered as it is.

    ``column`` names the column being built when the error happened, if any. The
    location (topic, partition, offset, stream) is added by whoever knows it, through
    ``located``, which returns a new error.
    """

    def __init__(
        self,
        reason: str,
        *,
        column: str | None = None,
        topic: str | None = None,
        partition: int | None = None,
        offset: int | None = None,
        stream: str | None = None,
    ) -> None:
        self.reason = reason
        self.column = column
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.stream = stream
        super().__init__(reason)

    def located(self, *, topic: str | None, partition: int | None, offset: int | None, stream: str | None) -> DataError:
        """This error at a location: a new DataError whose unknown location fields take the given values."""
        return DataError(
            self.reason,
            column=self.column,
            topic=self.topic if self.offset is not None else topic,
            partition=self.partition if self.offset is not None else partition,
            offset=self.offset if self.offset is not None else offset,
            stream=self.stream or stream,
        )

    def __str__(self) -> str:
        where = []
        if self.topic is not None:
            where.append(f"{self.topic}[{self.partition}]@{self.offset}")
        if self.stream is not None:
            where.append(f"stream {self.stream}")
        if self.column is not None:
            where.append(f"column {self.column}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


class IngestRejected(DataError):
    """Timeplus refused the rows of a request as data (a bad value): retrying cannot help."""

    def __init__(self, reason: str, *, stream: str, status: int, code: int | None) -> None:
        super().__init__(reason, stream=stream)
        self.status = status
        self.code = code
