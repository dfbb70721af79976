"""The admin analytics report as CSV rows (``curiouscore analytics export``).

One long table, ``section,subject,metric,value``, so that new metrics add rows rather than
columns and a spreadsheet pivot gives any view: ``summary`` (whole log), ``challenge`` (per
challenge id), ``step`` (``challenge_id/step_id``), ``day`` (UTC date) and ``system``
(``requests``: this process's HTTP figures, empty when it served none, as from the CLI; ``llm``:
the usage ledger's latency percentiles and success rate).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from core.service.analytics import AnalyticsReport
from core.service.system_metrics import Percentiles

HEADER = ("section", "subject", "metric", "value")
Row = tuple[str, str, str, str]

_SUMMARY = (
    "events",
    "learners",
    "sessions",
    "completions",
    "passed",
    "pass_rate",
    "xp_granted",
    "llm_calls",
    "llm_tokens_in",
    "llm_tokens_out",
    "llm_cost_usd",
)


def _value(value: object) -> str:
    return "" if value is None else str(value)


def analytics_rows(report: AnalyticsReport) -> Iterator[Row]:
    """Given an analytics report, yield its CSV rows (without the header), in a stable order."""
    yield ("summary", "", "generated_at", report.generated_at)
    for name in _SUMMARY:
        yield ("summary", "", name, _value(getattr(report, name)))
    for c in report.challenges:
        for name in ("sessions", "completed", "passed", "pass_rate"):
            yield ("challenge", c.challenge_id, name, _value(getattr(c, name)))
        yield ("challenge", c.challenge_id, "average_percent", _value(c.average_percent))
        yield ("challenge", c.challenge_id, "average_minutes", _value(c.average_minutes))
    for s in report.most_failed_steps:
        subject = f"{s.challenge_id}/{s.step_id}"
        yield ("step", subject, "failures", str(s.failures))
        yield ("step", subject, "closed_failed", str(s.closed_failed))
    for d in report.daily:
        for name in (
            "active_learners",
            "sessions_started",
            "completions",
            "xp_granted",
            "llm_calls",
            "llm_cost_usd",
        ):
            yield ("day", d.day, name, _value(getattr(d, name)))
    requests, llm = report.system.requests, report.system.llm
    yield from _system(
        "requests",
        requests.latency,
        requests=requests.requests,
        errors=requests.errors,
        error_rate=requests.error_rate,
    )
    yield from _system(
        "llm", llm.latency, calls=llm.calls, failures=llm.failures, success_rate=llm.success_rate
    )


def _system(subject: str, latency: Percentiles, **figures: object) -> Iterator[Row]:
    for metric, value in figures.items():
        yield ("system", subject, metric, _value(value))
    for name in ("p50_ms", "p95_ms", "p99_ms"):
        yield ("system", subject, f"latency_{name}", _value(getattr(latency, name)))


def analytics_csv(report: AnalyticsReport) -> str:
    """Given an analytics report, return it as CSV text with a header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(analytics_rows(report))
    return buffer.getvalue()
