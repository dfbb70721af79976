"""The program that runs *inside* the sandbox: the learner's code against the author's tests.

Standard library only, and self-contained: the runner passes this file's source to
``python3 -I -S -c`` and the job (code, tests, a per-run marker) as JSON on stdin. Each test's
outcome is written as one line ``<marker> {json}`` on the real stdout as soon as it is known, so a
run stopped by its time limit still reports the tests that finished. Whatever the learner prints
is captured per test and clipped.

Python: the learner's code runs once as a module; each test then runs in a copy of its namespace.
SQL: every test builds a fresh in-memory SQLite fixture (the step's ``setup`` plus the test's),
runs the reference query and the learner's single, read-only statement, and compares the result
sets (as multisets unless order matters). ATTACH, extensions, writes and pragmas are refused by an
authorizer, and a progress handler stops a query that does too much work.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sqlite3
import sys
import traceback
from collections import Counter
from typing import Any

OUTPUT_CLIP = 2000
MAX_ROWS = 1000
SQL_STEP_BUDGET = 20_000  # progress-handler calls of 1,000 VM instructions each (~20M instructions)
YOUR_CODE = "<your code>"


class ClippedWriter(io.TextIOBase):
    """A text sink that keeps the first ``limit`` characters and counts the rest."""

    def __init__(self, limit: int = OUTPUT_CLIP) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(text[:room])
            self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def value(self) -> str:
        out = "".join(self.parts)
        if self.dropped:
            out += f"\n… ({self.dropped} more characters not shown)"
        return out


def _emit(out: Any, marker: str, record: dict[str, Any]) -> None:
    out.write(marker + " " + json.dumps(record) + "\n")
    out.flush()


def _describe(error: BaseException, filename: str) -> str:
    """One learner-facing line: the exception and the line of ``filename`` it came from."""
    if isinstance(error, SyntaxError):
        return f"SyntaxError: {error.msg} (line {error.lineno})"
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    text = f"{type(error).__name__}: {error}".rstrip(": ")
    return f"{text} (line {line} of your code)" if line and filename == YOUR_CODE else text


def run_python(job: dict[str, Any], out: Any, marker: str) -> None:
    namespace: dict[str, Any] = {"__name__": "__learner__"}
    captured = ClippedWriter()
    load_error = None
    try:
        compiled = compile(job["code"], YOUR_CODE, "exec")
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured):
            exec(compiled, namespace)  # noqa: S102 - the whole point, inside the sandbox
    except BaseException as error:  # the learner's code may raise anything, SystemExit included
        load_error = _describe(error, YOUR_CODE)
    for test in job["tests"]:
        if load_error is not None:
            record = {"id": test["id"], "passed": False, "message": load_error}
            record["output"] = captured.value()
            _emit(out, marker, record)
            continue
        output = ClippedWriter()
        filename = f"<test {test['id']}>"
        try:
            compiled = compile(test["code"], filename, "exec")
            with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
                exec(compiled, dict(namespace))  # noqa: S102
            passed, message = True, ""
        except AssertionError as error:
            passed = False
            message = str(error) or f"this check failed: {test['code'].strip()}"
        except BaseException as error:
            passed, message = False, _describe(error, YOUR_CODE)
        _emit(
            out,
            marker,
            {"id": test["id"], "passed": passed, "message": message, "output": output.value()},
        )


# -- SQL ------------------------------------------------------------------------------------------

_WRITE_ACTIONS = {
    getattr(sqlite3, name)
    for name in dir(sqlite3)
    if name.startswith(("SQLITE_CREATE_", "SQLITE_DROP_"))
    or name
    in (
        "SQLITE_INSERT",
        "SQLITE_UPDATE",
        "SQLITE_DELETE",
        "SQLITE_ALTER_TABLE",
        "SQLITE_ATTACH",
        "SQLITE_DETACH",
        "SQLITE_PRAGMA",
        "SQLITE_TRANSACTION",
        "SQLITE_SAVEPOINT",
        "SQLITE_ANALYZE",
        "SQLITE_REINDEX",
    )
}
_DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}


def _read_only(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    if action in _WRITE_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _fixture(setup: str) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(setup)
    return conn


def _query(conn: sqlite3.Connection, sql: str) -> tuple[list[str], list[tuple[Any, ...]], bool]:
    """Run one statement; return its column names, up to MAX_ROWS rows, and whether it had more."""
    cursor = conn.execute(sql)
    columns = [d[0] for d in cursor.description or ()]
    rows = cursor.fetchmany(MAX_ROWS + 1)
    return columns, [tuple(r) for r in rows[:MAX_ROWS]], len(rows) > MAX_ROWS


def _norm(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(round(v, 9) if isinstance(v, float) else v for v in row)


def compare_results(
    expected: tuple[list[str], list[tuple[Any, ...]]],
    got: tuple[list[str], list[tuple[Any, ...]]],
    order_matters: bool,
) -> str:
    """Return "" when the result sets match, else what differs (counts, then the first row)."""
    exp_cols, exp_rows = expected
    got_cols, got_rows = got
    if len(exp_cols) != len(got_cols):
        return f"expected {len(exp_cols)} column(s), got {len(got_cols)}"
    if len(exp_rows) != len(got_rows):
        return f"expected {len(exp_rows)} row(s), got {len(got_rows)}"
    exp_n = [_norm(r) for r in exp_rows]
    got_n = [_norm(r) for r in got_rows]
    if order_matters:
        for index, (want, have) in enumerate(zip(exp_n, got_n)):  # noqa: B905 - runs on Python 3.8 in Judge0
            if want != have:
                return f"row {index + 1} differs: expected {want!r}, got {have!r}"
        return ""
    missing = Counter(exp_n) - Counter(got_n)
    if not missing:
        return ""
    extra = Counter(got_n) - Counter(exp_n)
    first = sorted(missing, key=repr)[0]
    surplus = sorted(extra, key=repr)
    got_text = f", got {surplus[0]!r}" if surplus else ""
    return f"first differing row: expected {first!r}{got_text}"


def _preview(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    lines = [" | ".join(columns)] + [" | ".join(repr(v) for v in row) for row in rows[:10]]
    if len(rows) > 10:
        lines.append(f"… {len(rows) - 10} more row(s)")
    return "\n".join(lines)[:OUTPUT_CLIP]


def run_sql(job: dict[str, Any], out: Any, marker: str) -> None:
    for test in job["tests"]:
        setup = job.get("setup", "") + "\n" + test.get("setup", "")
        record: dict[str, Any] = {"id": test["id"], "passed": False, "message": "", "output": ""}
        try:
            reference = _query(_fixture(setup), job["solution"])[:2]
        except sqlite3.Error as error:
            record["message"] = f"the reference query failed: {error}"
            _emit(out, marker, record)
            continue
        conn = _fixture(setup)
        conn.set_authorizer(_read_only)
        steps = [0]

        def budget(steps: list[int] = steps) -> int:
            steps[0] += 1
            return 1 if steps[0] > SQL_STEP_BUDGET else 0

        conn.set_progress_handler(budget, 1000)
        try:
            columns, rows, more = _query(conn, job["code"])
        except sqlite3.Error as error:
            if steps[0] > SQL_STEP_BUDGET:
                record["message"] = "the query did too much work and was stopped"
            elif "not authorized" in str(error) or "prohibited" in str(error):
                record["message"] = "only a single read-only SELECT may run here"
            else:
                record["message"] = f"SQL error: {error}"
            _emit(out, marker, record)
            continue
        if more:
            record["message"] = f"the query returned more than {MAX_ROWS} rows"
            _emit(out, marker, record)
            continue
        difference = compare_results(reference, (columns, rows), bool(job.get("order_matters")))
        record.update(passed=not difference, message=difference, output=_preview(columns, rows))
        _emit(out, marker, record)


def main() -> None:
    job = json.loads(sys.stdin.read())
    marker = job.pop("marker")
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    sys.stdin = io.StringIO("")
    if job["language"] == "sql":
        run_sql(job, out, marker)
    else:
        run_python(job, out, marker)
    _emit(out, marker, {"done": True})


if __name__ == "__main__":
    main()
