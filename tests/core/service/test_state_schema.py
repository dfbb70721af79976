"""State schema 5 (one record per closed step): a snapshot written by an older schema is ignored
and the session refolded from its events, by the service and by ``db verify``."""

from __future__ import annotations

from core.engine.state import STATE_SCHEMA_VERSION, state_to_dict
from core.service.verify import verify_store
from core.store import InMemoryStore
from core.store.base import Snapshot
from tests.core.service.conftest import ADA, make_services

GOOD_ANSWER = "You can reuse a named block of logic."


def _schema_4(state: dict) -> dict:
    """The shape version 4 wrote: closed steps without their points, plus ``outcomes``."""
    closed = [
        {k: v for k, v in step.items() if k not in ("points", "attempts", "hints")}
        for step in state["closed_steps"]
    ]
    outcomes = [
        {k: step[k] for k in ("step_id", "index", "score", "points", "passed", "attempts")}
        | {"hints": step["hints"], "hint_cost_points": step["hint_cost_points"]}
        for step in state["closed_steps"]
    ]
    return {**state, "closed_steps": closed, "outcomes": outcomes}


async def test_a_snapshot_of_schema_4_is_ignored_and_the_session_refolded():
    assert STATE_SCHEMA_VERSION == 5
    store = InMemoryStore()
    services = await make_services(store, snapshot_interval=1000)
    try:
        game = services.game
        view = await game.create_session(ADA, "quiz")
        sid = view.session_id
        await game.start_session(ADA, sid)
        await game.continue_gate(ADA, sid, "welcome")
        await game.submit_answer(ADA, sid, "pick", 0)
        await game.submit_answer(ADA, sid, "truth", True)
        done = await game.submit_answer(ADA, sid, "explain", GOOD_ANSWER)
        replayed = await game.replay(sid)
        old = _schema_4(state_to_dict(replayed))
        # A stale snapshot claiming another score: read, it would show; ignored, replay wins.
        old["score"] = 1.0
        await store.save_snapshot(Snapshot(sid, replayed.version, 4, old))

        fresh = await make_services(store, snapshot_interval=1000)  # nothing cached in memory
        try:
            assert await fresh.game.hydrate(sid) == replayed
            assert await fresh.game.get_view(ADA, sid) == done
            assert [(s.step_id, s.points) for s in replayed.closed_steps][-1] == ("explain", 20)
            assert replayed.outcomes == replayed.closed_steps
            report = await verify_store(store)
            assert report.ok, report.findings
        finally:
            await fresh.close()
    finally:
        await services.close()
