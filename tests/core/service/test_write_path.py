"""The write path on every store: one transaction per learner action, the XP grant decided inside
it, and idempotency keys bound to the request they were first used with."""

from __future__ import annotations

import asyncio

import pytest

from core.errors import IdempotencyKeyReused
from core.service.actor import Actor
from core.service.sessions import GameService
from core.store.base import ReadModelChanges
from tests.core.service.conftest import ADA

GOOD_ANSWER = "You can reuse a named block of logic."
ADMIN = Actor("root", role="admin")


async def _to_last_step(game, actor=ADA) -> str:
    view = await game.create_session(actor, "quiz")
    sid = view.session_id
    await game.start_session(actor, sid)
    await game.continue_gate(actor, sid, "welcome")
    await game.submit_answer(actor, sid, "pick", 0)
    await game.submit_answer(actor, sid, "truth", True)
    return sid


async def test_two_sessions_completing_at_once_grant_xp_once_and_the_events_say_so(any_services):
    game, store = any_services.game, any_services.store
    first, second = await _to_last_step(game), await _to_last_step(game)

    # Both completions read the ledger before either commits (a stale read, as two processes
    # racing see it): only the append can tell which one grants the XP.
    async def nothing_granted_yet(learner_id, challenge_id):
        return False

    store.has_xp_grant = nothing_granted_yet
    views = await asyncio.gather(
        game.submit_answer(ADA, first, "explain", GOOD_ANSWER),
        game.submit_answer(ADA, second, "explain", GOOD_ANSWER),
    )
    del store.has_xp_grant

    assert sorted(v.result.xp_granted for v in views) == [0, 100]
    claimed = []
    for sid in (first, second):
        events = await game.session_events(ADA, sid)
        claimed += [e.data["xp_granted"] for e in events if e.type == "SessionCompleted"]
    assert sorted(claimed) == [0, 100]
    total, grants = await store.learner_xp("ada")
    assert total == 100 and len(grants) == 1
    winner = next(v.session_id for v in views if v.result.xp_granted)
    assert grants[0].session_id == winner
    report = await any_services.analytics.report(ADMIN)
    assert report.xp_granted == total


async def test_a_key_reused_for_another_request_is_refused_and_records_nothing(any_services):
    game = any_services.game
    view = await game.create_session(ADA, "quiz")
    sid = view.session_id
    await game.start_session(ADA, sid)
    await game.continue_gate(ADA, sid, "welcome")
    first = await game.submit_answer(ADA, sid, "pick", 1, idempotency_key="k-1")
    events = await game.session_events(ADA, sid)

    with pytest.raises(IdempotencyKeyReused, match="different request"):
        await game.submit_answer(ADA, sid, "pick", 0, idempotency_key="k-1")
    with pytest.raises(IdempotencyKeyReused):
        await game.request_hint(ADA, sid, "pick", idempotency_key="k-1")

    assert await game.session_events(ADA, sid) == events
    assert await game.submit_answer(ADA, sid, "pick", 1, idempotency_key="k-1") == first


async def test_concurrent_retries_with_one_key_all_return_the_answered_state(any_services):
    game = any_services.game
    view = await game.create_session(ADA, "quiz")
    sid = view.session_id
    await game.start_session(ADA, sid)
    await game.continue_gate(ADA, sid, "welcome")

    views = await asyncio.gather(
        *(game.submit_answer(ADA, sid, "pick", 1, idempotency_key="same") for _ in range(100))
    )

    events = await game.session_events(ADA, sid)
    assert sum(1 for e in events if e.type == "AnswerSubmitted") == 1
    answered = await game.get_view(ADA, sid)
    assert all(v == answered for v in views), {v.version for v in views}
    assert answered.step is not None and answered.step.attempts_left == 1


async def test_a_learner_action_is_one_append_carrying_its_read_models(any_services):
    game, store = any_services.game, any_services.store
    appends: list[tuple[list[str], ReadModelChanges | None]] = []
    append = store.append

    async def recording_append(stream_id, events, expected_version, **kwargs):
        appends.append(([e.type for e in events], kwargs.get("changes")))
        return await append(stream_id, events, expected_version, **kwargs)

    separate: list[str] = []

    def forbid(name):
        original = getattr(store, name)

        async def called(*args, **kwargs):
            separate.append(name)
            return await original(*args, **kwargs)

        return called

    store.append = recording_append
    for name in ("upsert_session_summary", "save_snapshot", "grant_xp"):
        setattr(store, name, forbid(name))
    sid = await _to_last_step(game)
    appends.clear()
    await game.start_session(ADA, (await game.create_session(ADA, "quiz")).session_id)
    started = appends[-1]
    completed_view = await game.submit_answer(ADA, sid, "explain", GOOD_ANSWER)
    completed = appends[-1]

    assert separate == []
    # The offline narration joins the StepEntered that asks for it ...
    assert started[0][-2:] == ["StepEntered", "StepNarrated"]
    # ... and the offline grade, the step's end and the completion join the answer.
    assert completed[0][0] == "AnswerSubmitted" and completed[0][-1] == "SessionCompleted"
    changes = completed[1]
    assert changes is not None and changes.summary is not None
    assert changes.summary.status == "completed"
    assert changes.xp_grant is not None and changes.xp_grant.xp == 100
    assert completed_view.result is not None and completed_view.result.xp_granted == 100
    assert (await store.get_session_summary(sid)).status == "completed"


async def test_a_process_with_a_cached_state_sees_what_another_process_wrote(any_services):
    from core.service.sessions import GameService

    here = any_services.game
    there = GameService(
        store=any_services.store,
        catalog=any_services.catalog,
        llm=any_services.llm,
        clock=any_services.clock,
    )
    sid = (await here.create_session(ADA, "quiz")).session_id
    await here.start_session(ADA, sid)
    await here.continue_gate(ADA, sid, "welcome")  # "here" now holds the state at "pick"

    await there.submit_answer(ADA, sid, "pick", 0)
    view = await here.submit_answer(ADA, sid, "truth", True)

    assert view.step is not None and view.step.id == "explain"
    assert await there.get_view(ADA, sid) == view
    events = await here.session_events(ADA, sid)
    assert [e.version for e in events] == list(range(1, len(events) + 1))


def _another_process(services) -> GameService:
    """A second service over the same store: what another API worker or bot process is."""
    return GameService(
        store=services.store, catalog=services.catalog, llm=services.llm, clock=services.clock
    )


async def test_an_answer_after_another_process_answered_is_decided_on_the_fresh_state(
    any_services,
):
    here, there = any_services.game, _another_process(any_services)
    sid = (await here.create_session(ADA, "quiz")).session_id
    await here.start_session(ADA, sid)
    await here.continue_gate(ADA, sid, "welcome")  # "here" now holds the state at "pick"

    await there.submit_answer(ADA, sid, "pick", 1)  # attempt 1, wrong: "here" does not know
    view = await here.submit_answer(ADA, sid, "pick", 0)

    # The stale copy cost a refused append, not a wrong decision: this is attempt 2, and right.
    events = await here.session_events(ADA, sid)
    assert [e.data["attempt"] for e in events if e.type == "AnswerSubmitted"] == [1, 2]
    assert [e.version for e in events] == list(range(1, len(events) + 1))
    assert view.step is not None and view.step.id == "truth"
    assert await there.get_view(ADA, sid) == view


async def test_a_hint_after_another_process_took_one_is_the_next_hint(any_services):
    here, there = any_services.game, _another_process(any_services)
    sid = (await here.create_session(ADA, "quiz")).session_id
    await here.start_session(ADA, sid)
    await here.continue_gate(ADA, sid, "welcome")

    await there.request_hint(ADA, sid, "pick")
    view = await here.request_hint(ADA, sid, "pick")

    events = await here.session_events(ADA, sid)
    assert [e.data["hint_index"] for e in events if e.type == "HintGiven"] == [0, 1]
    assert view.step is not None and view.step.hints_left == 0


async def test_a_process_holding_the_state_decides_without_reading_the_log(any_services):
    game, store = any_services.game, any_services.store
    sid = (await game.create_session(ADA, "quiz")).session_id
    await game.start_session(ADA, sid)
    reads: list[str] = []
    for name in ("read_stream", "load_snapshot", "find_idempotent"):
        original = getattr(store, name)

        async def counted(*args, _original=original, _name=name, **kwargs):
            reads.append(_name)
            return await _original(*args, **kwargs)

        setattr(store, name, counted)

    await game.continue_gate(ADA, sid, "welcome", idempotency_key="k-gate")
    await game.submit_answer(ADA, sid, "pick", 1, idempotency_key="k-pick")

    assert reads == []
    view = await game.get_view(ADA, sid)  # a read still asks the log what is new
    assert reads == ["read_stream"]
    assert view.step is not None and view.step.attempts_used == 1


@pytest.mark.parametrize("fresh_process", [False, True], ids=["same-process", "other-process"])
async def test_a_retry_after_the_session_moved_on_returns_the_state_and_appends_nothing(
    any_services, fresh_process
):
    game = any_services.game
    sid = (await game.create_session(ADA, "quiz")).session_id
    await game.start_session(ADA, sid)
    await game.continue_gate(ADA, sid, "welcome")
    await game.request_hint(ADA, sid, "pick", idempotency_key="k-hint")
    await game.submit_answer(ADA, sid, "pick", 0, idempotency_key="k-pick")
    moved_on = await game.submit_answer(ADA, sid, "truth", True, idempotency_key="k-truth")
    events = await game.session_events(ADA, sid)
    retrying = _another_process(any_services) if fresh_process else game

    # The step is no longer current: deciding again would be refused, the retry is not.
    again = await retrying.submit_answer(ADA, sid, "pick", 0, idempotency_key="k-pick")
    # The first hint request is recorded: no second hint, whatever the state says now.
    hint = await retrying.request_hint(ADA, sid, "pick", idempotency_key="k-hint")
    same = await retrying.submit_answer(ADA, sid, "truth", True, idempotency_key="k-truth")

    assert again == hint == same == moved_on
    assert await game.session_events(ADA, sid) == events
    with pytest.raises(IdempotencyKeyReused):
        await retrying.submit_answer(ADA, sid, "pick", 1, idempotency_key="k-pick")
    assert await game.session_events(ADA, sid) == events
