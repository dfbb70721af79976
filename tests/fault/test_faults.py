"""Faults under load, on a throwaway PostgreSQL cluster: the API killed with SIGKILL, PostgreSQL
restarted, and a pg_dump / pg_restore round trip. Each phase waits for acknowledged writes (never for
a fixed time, which a busy machine outruns); 6 learners, loopback only, and the load stops when the
test has seen what it needs. The cluster and servers are stopped and removed at the end.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from core.service.verify import verify_store
from core.store.engine import create_store_engine
from core.store.migrate import migrate
from core.store.sql import SqlStore
from tests.fault.conftest import ROOT, Cluster, Server

pytestmark = pytest.mark.postgres

LEARNERS = 6
SECONDS = 12.0
# Which event proves that an acknowledged write of each kind is in the log.
PROOF = {
    "create": "SessionCreated",
    "start": "SessionStarted",
    "answer": "AnswerGraded",
    "continue": "StepClosed",
}


def start_load(
    port: int, out: Path, *, seconds: float = SECONDS, stop_file: Path | None = None
) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "tests.fault.load",
        "--port",
        str(port),
        "--learners",
        str(LEARNERS),
        "--seconds",
        str(seconds),
        "--out",
        str(out),
    ]
    if stop_file is not None:
        command += ["--stop-file", str(stop_file)]
    return subprocess.Popen(command, cwd=ROOT)


def read_acks(out: Path) -> tuple[list[dict[str, object]], dict[str, int]]:
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    *events, last = lines
    return [line for line in events if "op" in line], last["statuses"]


def lines_so_far(out: Path) -> list[dict[str, object]]:
    """What the load generator has written up to now (every line is flushed whole)."""
    if not out.exists():
        return []
    lines = out.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]


def acks_so_far(out: Path, after: float = 0.0) -> list[dict[str, object]]:
    return [line for line in lines_so_far(out) if "op" in line and float(str(line["t"])) > after]


def wait_until(condition: Callable[[], bool], what: str, within: float = 120.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def health_or_none(server: Server) -> int | None:
    try:
        return server.health()
    except httpx.TransportError:
        return None


async def assert_every_ack_is_in_the_log(url: str, acks: list[dict[str, object]]) -> None:
    store = SqlStore(url)
    try:
        streams: dict[str, list[tuple[str, object]]] = {}
        for ack in acks:
            sid = str(ack["session_id"])
            if sid not in streams:
                streams[sid] = [
                    (e.type, e.data.get("step_id")) for e in await store.read_stream(sid)
                ]
            wanted = PROOF[str(ack["op"])]
            step = ack["step_id"]
            assert any(t == wanted and (step is None or s == step) for t, s in streams[sid]), ack
        report = await verify_store(store)
    finally:
        await store.close()
    assert report.ok, report.findings
    assert report.unchained_events == 0


async def dump_rows(url: str) -> tuple[list[object], list[object]]:
    """Every event (with its hash) and snapshot of the database, in order."""
    events = text(
        "SELECT session_id, sequence_number, event_type, data, event_hash FROM game_events "
        "ORDER BY position"
    )
    snapshots = text("SELECT session_id, sequence_number, state FROM session_snapshots ORDER BY 1")
    engine = create_store_engine(url, pooled=False)
    try:
        async with engine.connect() as connection:
            return (
                list((await connection.execute(events)).all()),
                list((await connection.execute(snapshots)).all()),
            )
    finally:
        await engine.dispose()


def test_every_acknowledged_answer_survives_a_sigkill_of_the_server(
    cluster: Cluster, server_factory: Callable[[str], Server], tmp_path: Path
) -> None:
    url = cluster.new_database("fault_sigkill")
    asyncio.run(migrate(url))
    server = server_factory(url)
    server.start()
    out, stop = tmp_path / "acks.jsonl", tmp_path / "stop-load"
    load = start_load(server.port, out, seconds=300, stop_file=stop)
    try:
        wait_until(lambda: len(acks_so_far(out)) > 20, "acknowledged writes before the kill")
        server.kill()
        killed_at = time.time()
        server.start()  # same port: the load generator keeps going; start() waits for health
        wait_until(
            lambda: len(acks_so_far(out, after=killed_at + 1)) > 20,
            "acknowledged writes after the restart",
        )
        stop.touch()
        load.wait(timeout=60)
    finally:
        stop.touch()
        if load.poll() is None:
            load.kill()
            load.wait()
    acks, statuses = read_acks(out)
    assert load.returncode == 0
    before = [a for a in acks if float(str(a["t"])) < killed_at]
    after = [a for a in acks if float(str(a["t"])) > killed_at + 1]
    assert len(before) > 20 and len(after) > 20, (len(before), len(after), statuses)
    assert statuses.get("transport", 0) > 0  # the kill was felt
    asyncio.run(assert_every_ack_is_in_the_log(url, acks))


def test_a_postgres_restart_gives_503s_then_service_resumes_without_an_api_restart(
    cluster: Cluster, server_factory: Callable[[str], Server], tmp_path: Path
) -> None:
    url = cluster.new_database("fault_pg_restart")
    asyncio.run(migrate(url))
    server = server_factory(url)
    server.start()
    out, stop = tmp_path / "acks.jsonl", tmp_path / "stop-load"
    # The load runs until told to stop; every phase waits for what it needs, never for a time.
    load = start_load(server.port, out, seconds=300, stop_file=stop)
    try:
        wait_until(lambda: len(acks_so_far(out)) >= 10, "acknowledged writes before the outage")
        cluster.stop("fast")
        stopped_at = time.time()
        wait_until(lambda: health_or_none(server) == 503, "/health to say 503")
        down = 503
        wait_until(
            lambda: any(
                line.get("status") == 503 and float(str(line["t"])) > stopped_at
                for line in lines_so_far(out)
            ),
            "the load to be answered 503 during the outage",
        )
        cluster.start()
        restarted_at = time.time()
        wait_until(
            lambda: any(
                "op" in line and float(str(line["t"])) > restarted_at for line in lines_so_far(out)
            ),
            "an acknowledged write after the restart",
        )
        stop.touch()
        load.wait(timeout=60)
        up = server.health()
    finally:
        stop.touch()
        if load.poll() is None:
            load.kill()
            load.wait()
    assert server.process is not None and server.process.poll() is None  # never restarted
    assert load.returncode == 0
    assert (down, up) == (503, 200)
    acks, statuses = read_acks(out)
    assert statuses.get("503", 0) > 0, statuses
    assert any(float(str(a["t"])) > restarted_at for a in acks), "no recovery"
    assert any(float(str(a["t"])) < stopped_at for a in acks)
    asyncio.run(assert_every_ack_is_in_the_log(url, acks))


def test_pg_dump_then_pg_restore_round_trip_verifies(
    cluster: Cluster, server_factory: Callable[[str], Server], tmp_path: Path
) -> None:
    url = cluster.new_database("backup_source")
    asyncio.run(migrate(url))
    server = server_factory(url)
    server.start()
    out, stop = tmp_path / "acks.jsonl", tmp_path / "stop-load"
    load = start_load(server.port, out, seconds=300, stop_file=stop)
    try:
        wait_until(lambda: len(acks_so_far(out)) > 20, "acknowledged writes to back up")
        stop.touch()
        assert load.wait(timeout=60) == 0
    finally:
        stop.touch()
        if load.poll() is None:
            load.kill()
            load.wait()
    server.stop()
    dump = tmp_path / "curiouscore.dump"
    libpq = cluster.url("backup_source", driver="postgresql")
    subprocess.run(
        [str(cluster.bindir / "pg_dump"), "--format=custom", "--no-owner", f"--file={dump}", libpq],
        check=True,
        timeout=120,
    )
    restored = cluster.new_database("backup_restored")
    subprocess.run(
        [
            str(cluster.bindir / "pg_restore"),
            "--no-owner",
            "--exit-on-error",
            f"--dbname={cluster.url('backup_restored', driver='postgresql')}",
            str(dump),
        ],
        check=True,
        timeout=120,
    )
    rows = {"source": asyncio.run(dump_rows(url)), "restored": asyncio.run(dump_rows(restored))}
    assert len(rows["source"][0]) > 20
    assert rows["restored"] == rows["source"]
    asyncio.run(assert_every_ack_is_in_the_log(restored, read_acks(out)[0]))
