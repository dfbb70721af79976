"""Session use cases through the real service, engine and stores."""

from __future__ import annotations

import asyncio

import pytest

from core.engine import UiMode
from core.engine.commands import SubmitAnswer
from core.engine.decide import decide
from core.engine.events import encode
from core.errors import AnswerConflict, InvalidAnswer, SessionNotFound, StepNotCurrent
from core.service.actor import Actor
from core.service.sessions import GameService
from core.store import InMemoryStore, NewEvent
from tests.core.service.conftest import ADA, BOB, make_services, quiz

GOOD_ANSWER = "You can reuse a named block of logic."


async def _play_to_chat(services, actor=ADA):
    game = services.game
    view = await game.create_session(actor, "quiz")
    view = await game.start_session(actor, view.session_id)
    view = await game.continue_gate(actor, view.session_id, "welcome")
    view = await game.submit_answer(actor, view.session_id, "pick", 0)
    return await game.submit_answer(actor, view.session_id, "truth", True)


async def test_start_enters_first_step_and_narrates_it(services):
    view = await services.game.create_session(ADA, "quiz")
    assert view.status == "created" and view.ui_mode is UiMode.NOT_STARTED
    view = await services.game.start_session(ADA, view.session_id)
    assert view.ui_mode is UiMode.CONTINUE_GATE
    assert [(e.kind, e.text) for e in view.transcript] == [("narration", "Hello there.")]


async def test_full_path_passes_grants_xp_and_levels(services):
    view = await _play_to_chat(services)
    assert view.ui_mode is UiMode.CHAT
    view = await services.game.submit_answer(ADA, view.session_id, "explain", GOOD_ANSWER)
    assert view.ui_mode is UiMode.COMPLETED
    assert view.result is not None and view.result.passed
    assert view.result.score == 40 and view.result.xp_granted == 100
    feedback = [e for e in view.transcript if e.kind == "feedback"][-1]
    assert [(i.id, i.points) for i in feedback.items] == [("reuse", 10), ("names", 10)]
    profile = await services.learners.profile(ADA)
    assert profile.xp == 100 and profile.level == 1
    assert [g.challenge_id for g in profile.completed] == ["quiz"]


async def test_xp_is_granted_once_per_learner_and_challenge(services):
    for _ in range(2):
        view = await _play_to_chat(services)
        view = await services.game.submit_answer(ADA, view.session_id, "explain", GOOD_ANSWER)
    assert view.result is not None and view.result.passed and view.result.xp_granted == 0
    assert (await services.learners.profile(ADA)).xp == 100
    board = await services.learners.leaderboard()
    assert [(row.learner_id, row.xp, row.rank) for row in board] == [("ada", 100, 1)]


async def test_chat_answer_is_graded_and_failed_attempts_can_retry(services):
    view = await _play_to_chat(services)
    view = await services.game.submit_answer(
        ADA, view.session_id, "explain", "Computers like them."
    )
    assert view.ui_mode is UiMode.CHAT
    assert view.step is not None and view.step.attempts_left == 2
    last = view.transcript[-1]
    assert last.kind == "feedback" and last.passed is False and last.score == 0


async def test_another_learners_session_is_not_found(services):
    view = await services.game.create_session(ADA, "quiz")
    with pytest.raises(SessionNotFound):
        await services.game.get_view(BOB, view.session_id)
    with pytest.raises(SessionNotFound):
        await services.game.start_session(BOB, view.session_id)
    admin_view = await services.game.get_view(Actor("root", role="admin"), view.session_id)
    assert admin_view.session_id == view.session_id


async def test_answer_for_old_step_is_rejected_and_not_applied(services):
    view = await services.game.create_session(ADA, "quiz")
    view = await services.game.start_session(ADA, view.session_id)
    view = await services.game.continue_gate(ADA, view.session_id, "welcome")
    with pytest.raises(StepNotCurrent):
        await services.game.continue_gate(ADA, view.session_id, "welcome")
    with pytest.raises(StepNotCurrent):
        await services.game.submit_answer(ADA, view.session_id, "truth", True)
    after = await services.game.get_view(ADA, view.session_id)
    assert after.version == view.version and after.step is not None and after.step.id == "pick"


async def test_invalid_answer_loses_nothing(services):
    view = await _play_to_chat(services)
    with pytest.raises(InvalidAnswer):
        await services.game.submit_answer(ADA, view.session_id, "explain", "   ")
    after = await services.game.get_view(ADA, view.session_id)
    assert after.version == view.version


async def test_idempotent_retry_returns_same_view_and_appends_nothing(services):
    view = await services.game.create_session(ADA, "quiz")
    await services.game.start_session(ADA, view.session_id)
    await services.game.continue_gate(ADA, view.session_id, "welcome")
    first = await services.game.submit_answer(ADA, view.session_id, "pick", 1, idempotency_key="k1")
    again = await services.game.submit_answer(ADA, view.session_id, "pick", 1, idempotency_key="k1")
    assert again == first
    events = await services.game.session_events(ADA, view.session_id)
    assert sum(1 for e in events if e.type == "AnswerSubmitted") == 1


@pytest.mark.parametrize("hydrated", [True, False], ids=["hydrated", "read-from-the-log"])
async def test_racing_answers_to_one_step_give_one_answer_and_one_conflict(any_services, hydrated):
    game = any_services.game
    view = await game.create_session(ADA, "quiz")
    await game.start_session(ADA, view.session_id)
    await game.continue_gate(ADA, view.session_id, "welcome")
    if not hydrated:  # a process that has not seen the session yet reads it from the log
        game = GameService(
            store=any_services.store,
            catalog=any_services.catalog,
            llm=any_services.llm,
            clock=any_services.clock,
        )
    # Both requests decide on the same state before either writes: a true race, on every store.
    store = any_services.store
    barrier = asyncio.Barrier(2)
    append = store.append
    appends = 0

    async def append_together(*args, **kwargs):
        nonlocal appends
        appends += 1
        if appends <= 2:
            async with asyncio.timeout(5):
                await barrier.wait()
        return await append(*args, **kwargs)

    store.append = append_together
    results = await asyncio.gather(
        game.submit_answer(ADA, view.session_id, "pick", 1),
        game.submit_answer(ADA, view.session_id, "pick", 2),
        return_exceptions=True,
    )
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], AnswerConflict | StepNotCurrent), results
    events = await game.session_events(ADA, view.session_id)
    assert [e.version for e in events] == list(range(1, len(events) + 1))
    assert [e.data["attempt"] for e in events if e.type == "AnswerSubmitted"] == [1]


async def test_llm_failure_falls_back_to_a_provisional_grade(services):
    class Broken:
        name = "broken"

        async def narrate(self, request):
            raise RuntimeError("provider exploded: sk-secret")

        hint = narrate
        evaluate = narrate

    store = InMemoryStore()
    broken = await make_services(store, provider=Broken())
    view = await _play_to_chat(broken)
    assert view.transcript[0].source == "fallback"
    view = await broken.game.submit_answer(ADA, view.session_id, "explain", GOOD_ANSWER)
    feedback = [e for e in view.transcript if e.kind == "feedback"][-1]
    assert feedback.provisional and feedback.passed
    assert "sk-secret" not in feedback.text and "exploded" not in feedback.text
    assert view.ui_mode is UiMode.COMPLETED


async def test_pending_grade_left_by_a_crash_is_completed_on_next_touch(services):
    view = await _play_to_chat(services)
    loaded = await services.game._load(view.session_id)  # simulate a process dying after step 3
    events = decide(
        loaded.challenge, loaded.state, SubmitAnswer(at="t", step_id="explain", answer=GOOD_ANSWER)
    )
    await services.store.append(
        view.session_id,
        [NewEvent(e.NAME, encode(e), e.SCHEMA_VERSION) for e in events],
        expected_version=loaded.state.version,
        recorded_at="t",
    )
    after = await services.game.get_view(ADA, view.session_id)
    assert after.ui_mode is UiMode.COMPLETED and after.result is not None and after.result.passed


async def test_hints_come_authored_first_then_generated_and_lower_the_step_maximum(services):
    view = await services.game.create_session(ADA, "quiz")
    await services.game.start_session(ADA, view.session_id)
    await services.game.continue_gate(ADA, view.session_id, "welcome")
    view = await services.game.request_hint(ADA, view.session_id, "pick")
    assert view.transcript[-1].text == "Think." and view.transcript[-1].source == "authored"
    view = await services.game.request_hint(ADA, view.session_id, "pick")
    assert view.transcript[-1].kind == "hint" and view.transcript[-1].source == "offline"
    assert view.step is not None and view.step.hints_left == 0 and view.step.available == 8
    view = await services.game.submit_answer(ADA, view.session_id, "pick", 0)
    closed = [
        e
        for e in await services.game.session_events(ADA, view.session_id)
        if e.type == "StepClosed"
    ]
    assert closed[-1].data["score"] == 8 and closed[-1].data["passed"] is True
    assert view.progress.max_score == 40


async def test_snapshots_are_only_a_cache(any_services):
    view = await _play_to_chat(any_services)
    before = await any_services.game.get_view(ADA, view.session_id)
    assert await any_services.store.load_snapshot(view.session_id) is not None
    assert await any_services.store.delete_snapshots() >= 1
    after = await any_services.game.get_view(ADA, view.session_id)
    assert after == before
    assert await any_services.game.replay(view.session_id) == await any_services.game.hydrate(
        view.session_id
    )


async def test_session_keeps_the_challenge_version_it_began_with(services):
    view = await services.game.create_session(ADA, "quiz")
    result = await services.catalog.publish(
        quiz(title="A renamed quiz"), at="2026-02-01T00:00:00+00:00"
    )
    assert result.version == 2
    old = await services.game.start_session(ADA, view.session_id)
    assert old.title == "A small quiz" and old.challenge_version == 1
    new = await services.game.create_session(ADA, "quiz")
    assert new.title == "A renamed quiz" and new.challenge_version == 2


async def test_list_sessions_shows_the_callers_sessions_only(services):
    mine = await services.game.create_session(ADA, "quiz")
    await services.game.create_session(BOB, "quiz")
    listed = await services.game.list_sessions(ADA)
    assert [s.session_id for s in listed] == [mine.session_id]
