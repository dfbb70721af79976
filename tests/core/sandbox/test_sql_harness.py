"""SQL steps in the sandbox: result sets compared with the reference, and the fixture holds."""

from __future__ import annotations

import asyncio

from core.sandbox.bwrap import BwrapRunner
from core.sandbox.models import CodeJob, CodeTest, RunResult

SETUP = """
CREATE TABLE authors (id INTEGER PRIMARY KEY, name TEXT);
CREATE TABLE books (id INTEGER PRIMARY KEY, author_id INTEGER, title TEXT);
INSERT INTO authors VALUES (1, 'Ada'), (2, 'Grace'), (3, 'Linus');
INSERT INTO books VALUES (1, 1, 'Notes'), (2, 2, 'COBOL'), (3, 2, 'Compilers');
"""
SOLUTION = "SELECT a.name, b.title FROM authors a JOIN books b ON b.author_id = a.id"


async def run_sql(runner: BwrapRunner, code: str, *, order_matters: bool = False) -> RunResult:
    job = CodeJob(
        language="sql",
        code=code,
        tests=(
            CodeTest("result"),
            CodeTest("extra-row", setup="INSERT INTO books VALUES (4, 3, 'Kernels');"),
        ),
        setup=SETUP,
        solution=SOLUTION,
        order_matters=order_matters,
        time_limit_seconds=3,
    )
    return await asyncio.wait_for(runner.run(job), 20)


async def test_equal_result_set_in_any_order_passes(bwrap_runner: BwrapRunner) -> None:
    result = await run_sql(
        bwrap_runner,
        "SELECT name, title FROM books JOIN authors ON authors.id = books.author_id ORDER BY title DESC;",
    )
    assert [t.passed for t in result.tests] == [True, True], result.tests
    assert "Notes" in result.tests[0].output


async def test_order_matters_when_the_step_says_so(bwrap_runner: BwrapRunner) -> None:
    result = await run_sql(bwrap_runner, SOLUTION + " ORDER BY b.title DESC", order_matters=True)
    assert not result.tests[0].passed and "differs: expected" in result.tests[0].message


async def test_feedback_names_row_and_column_counts(bwrap_runner: BwrapRunner) -> None:
    rows = await run_sql(
        bwrap_runner,
        "SELECT a.name, b.title FROM authors a LEFT JOIN books b ON b.author_id = a.id",
    )
    assert rows.tests[0].message == "expected 3 row(s), got 4"
    cols = await run_sql(
        bwrap_runner, "SELECT a.name FROM authors a JOIN books b ON b.author_id = a.id"
    )
    assert cols.tests[0].message == "expected 2 column(s), got 1"
    wrong = await run_sql(
        bwrap_runner, "SELECT a.name, 'x' FROM authors a JOIN books b ON b.author_id = a.id"
    )
    assert wrong.tests[0].message.startswith("first differing row: expected ('Ada', 'Notes')")


async def test_attach_and_load_extension_are_refused(bwrap_runner: BwrapRunner) -> None:
    attach = await run_sql(bwrap_runner, "ATTACH DATABASE '/tmp/other.db' AS other")
    assert not attach.tests[0].passed and "read-only" in attach.tests[0].message
    extension = await run_sql(
        bwrap_runner, "SELECT load_extension('/usr/lib/x86_64-linux-gnu/libsqlite3.so.0')"
    )
    assert not extension.tests[0].passed
    assert (
        "read-only" in extension.tests[0].message or "not authorized" in extension.tests[0].message
    )


async def test_writes_never_reach_the_next_run(bwrap_runner: BwrapRunner) -> None:
    for statement in (
        "DELETE FROM books",
        "DROP TABLE books",
        "INSERT INTO books VALUES (9, 1, 'x')",
        "PRAGMA writable_schema = 1",
        "SELECT 1; DELETE FROM books",
    ):
        result = await run_sql(bwrap_runner, statement)
        assert not result.tests[0].passed, statement
    after = await run_sql(bwrap_runner, SOLUTION)
    assert [t.passed for t in after.tests] == [True, True]


async def test_runaway_recursive_cte_is_stopped(bwrap_runner: BwrapRunner) -> None:
    counting = await run_sql(
        bwrap_runner,
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*), 1 FROM r",
    )
    assert not counting.tests[0].passed and counting.duration_ms < 8000
    assert "too much work" in counting.tests[0].message or "time limit" in counting.tests[0].message
    listing = await run_sql(
        bwrap_runner,
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT n, n FROM r",
    )
    assert not listing.tests[0].passed and "more than 1000 rows" in listing.tests[0].message


async def test_huge_cross_join_is_stopped(bwrap_runner: BwrapRunner) -> None:
    result = await run_sql(
        bwrap_runner,
        "SELECT count(*), 1 FROM books a, books b, books c, books d, books e, books f, books g, books h, books i, books j, books k, books l, books m, books n, books o",
    )
    assert not result.tests[0].passed and result.duration_ms < 8000


async def test_hidden_sql_test_reveals_neither_its_fixture_nor_the_expected_rows(
    bwrap_runner: BwrapRunner,
) -> None:
    canary = "hidden-sql-canary-9c2d"
    job = CodeJob(
        language="sql",
        code="SELECT a.name, b.title FROM authors a JOIN books b ON b.author_id = a.id WHERE b.id < 4",
        tests=(
            CodeTest("result"),
            CodeTest("hidden", setup=f"INSERT INTO books VALUES (4, 3, '{canary}');", hidden=True),
        ),
        setup=SETUP,
        solution=SOLUTION,
        time_limit_seconds=3,
    )
    result = await asyncio.wait_for(bwrap_runner.run(job), 20)
    visible, hidden = result.tests
    assert visible.passed and not hidden.passed
    assert hidden.message == "" and hidden.output == ""  # no row counts, no differing row
    assert all(canary not in t.message + t.output for t in result.tests)
    # Listing the schema or every row shows only the visible fixture.
    peek = CodeJob(
        language="sql",
        code="SELECT group_concat(title) FROM books",
        tests=job.tests,
        setup=SETUP,
        solution=SOLUTION,
        time_limit_seconds=3,
    )
    peeked = await asyncio.wait_for(bwrap_runner.run(peek), 20)
    assert all(canary not in t.message + t.output for t in peeked.tests)
