"""Session counters for ``/metrics``: started and completed sessions, counted where events are stored."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter

from core.engine.events import Event, SessionCompleted, SessionStarted


class SessionMetrics:
    """Counts sessions started and completed (by result) in this process, whatever the channel."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.started = Counter(
            "curiouscore_sessions_started_total", "Sessions started.", registry=registry
        )
        self.completed = Counter(
            "curiouscore_sessions_completed_total",
            "Sessions completed, by result.",
            ["result"],
            registry=registry,
        )
        for result in ("passed", "failed"):
            self.completed.labels(result)

    def observe(self, events: Iterable[Event]) -> None:
        """Count the events just appended (never a duplicate: those append nothing)."""
        for event in events:
            if isinstance(event, SessionStarted):
                self.started.inc()
            elif isinstance(event, SessionCompleted):
                self.completed.labels("passed" if event.passed else "failed").inc()
