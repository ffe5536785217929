"""Back-pressure: pause consumption while Timeplus is failing or too much is buffered.

The consumer keeps calling poll while paused, so it stays in its group (DESIGN.md §3).
"""

from __future__ import annotations

import logging

from connector.assignment import Assignment
from connector.intake import Intake
from connector.sender import Sender

log = logging.getLogger(__name__)


class Backpressure:
    """Pauses every partition on an outage or over ``max_buffered_bytes``; resumes below half of it."""

    def __init__(self, sender: Sender, intake: Intake, assignment: Assignment, *, max_buffered_bytes: int) -> None:
        self._sender = sender
        self._intake = intake
        self._assignment = assignment
        self._max_buffered = max_buffered_bytes

    def apply(self) -> None:
        """Pause or resume, as the Sender's state and the memory buffered or in flight say."""
        buffered = self._sender.in_flight_bytes + self._intake.buffered_bytes
        outage = self._sender.in_outage
        assignment = self._assignment
        if not assignment.paused and (outage or buffered > self._max_buffered):
            assignment.pause()
            reason = "Timeplus is failing" if outage else f"{buffered} bytes buffered or in flight"
            log.info("paused %d partition(s): %s", len(assignment.assigned), reason)
        elif assignment.paused and not outage and buffered <= self._max_buffered // 2:
            assignment.resume()
            log.info("resumed %d partition(s)", len(assignment.assigned))
