"""The pending code run in one process: callers share the run in flight (``SingleFlight``) and a
finished run is kept until its grade is recorded, so a retried recording never runs the code again."""

from __future__ import annotations

import asyncio

from core.service.clock import FixedClock
from core.service.code_runs import CodeGrading
from tests.core.service.test_code_steps import ADA, FakeRunner, make

GOOD = "def double(x):\n    return 2 * x"


async def pending(runner: FakeRunner):
    """Services with Ada's code answer submitted and not yet run, and that session's state."""
    services, view = await make(runner)
    await services.game.submit_answer(ADA, view.session_id, "double", GOOD, settle=False)
    state = await services.game.replay(view.session_id)
    challenge = await services.catalog.latest_spec("quiz")
    assert state.current is not None and state.current.pending_attempt == 1
    return services, challenge, state


async def test_a_finished_run_is_reused_until_it_is_recorded() -> None:
    runner = FakeRunner()
    services, challenge, state = await pending(runner)
    grading = CodeGrading(runner, FixedClock())
    first = await grading.pending_run(challenge, state, xp_already_granted=False)
    # Its append lost a race and is retried: the same attempt asks again.
    again = await grading.pending_run(challenge, state, xp_already_granted=False)
    assert first is not None and again is not None and again.results == first.results
    assert len(runner.runs) == 1
    await services.close()


async def test_concurrent_callers_share_one_run() -> None:
    runner = FakeRunner()
    runner.gate = asyncio.Event()
    services, challenge, state = await pending(runner)
    grading = CodeGrading(runner, FixedClock())
    calls = [
        asyncio.create_task(grading.pending_run(challenge, state, xp_already_granted=False))
        for _ in range(3)
    ]
    await runner.started.wait()
    runner.gate.set()
    results = await asyncio.gather(*calls)
    assert len(runner.runs) == 1
    assert all(r is not None and r.results == results[0].results for r in results)
    await services.close()


async def test_a_caller_waiting_on_a_cancelled_run_runs_the_code_itself() -> None:
    runner = FakeRunner()
    runner.gate = asyncio.Event()
    services, challenge, state = await pending(runner)
    grading = CodeGrading(runner, FixedClock())
    first = asyncio.create_task(grading.pending_run(challenge, state, xp_already_granted=False))
    await runner.started.wait()
    waiter = asyncio.create_task(grading.pending_run(challenge, state, xp_already_granted=False))
    for _ in range(20):  # let the waiter join the run in flight (loop turns, no timing)
        await asyncio.sleep(0)
    assert not waiter.done()
    first.cancel()  # e.g. the first request's client went away
    runner.gate.set()
    result = await asyncio.wait_for(waiter, 30)
    assert first.cancelled()
    # The first run gave its claim back when cancelled, so the waiter claimed and ran it.
    assert result is not None and all(t.passed for t in result.results)
    assert len(runner.runs) == 2
    await services.close()
