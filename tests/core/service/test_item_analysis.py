"""Item analysis from the event log: difficulty, discrimination, wrong choices, rubric hits, drop-off."""

from __future__ import annotations

from core.bootstrap import build_services
from core.config import Settings
from core.service.actor import Actor
from core.service.item_analysis import item_analysis
from core.store import InMemoryStore
from tests.core.authoring.base import make_challenge

PASS_CHAT = "Tuples are immutable, so use them as a dictionary key."


async def test_item_analysis_separates_strong_and_weak_learners_per_step():
    services = await build_services(Settings(database_url="memory://"), store=InMemoryStore())
    challenge = make_challenge()
    await services.catalog.publish(challenge, at=services.clock.now())
    game = services.game

    async def play(learner: str, first: list[int], changes: list[int], tf: bool, chat: str):
        """Play to the end; ``first`` lists the picks per attempt on the mcq step."""
        await services.learners.ensure_learner(learner, learner)
        actor = Actor(learner)
        sid = (await game.create_session(actor, "lists")).session_id
        view = await game.start_session(actor, sid)
        answers = {
            "first": list(first),
            "changes": [changes],
            "append-returns": [tf],
            "tuple": [chat],
        }
        while view.step is not None:
            step = view.step
            if step.kind == "gate":
                view = await game.continue_gate(actor, sid, step.id)
                continue
            tried = answers[step.id]
            answer = tried.pop(0) if len(tried) > 1 else tried[0]
            view = await game.submit_answer(actor, sid, step.id, answer)
        return view

    strong_a = await play("a", [0], [0, 2], False, PASS_CHAT)
    strong_b = await play("b", [0], [0, 2], False, PASS_CHAT)
    weak = await play("c", [1, 2], [1], True, "No idea at all.")
    assert strong_a.result.passed and strong_b.result.passed and not weak.result.passed
    # d stops for good on the multi step
    await services.learners.ensure_learner("d", "d")
    d = Actor("d")
    sid = (await game.create_session(d, "lists")).session_id
    await game.start_session(d, sid)
    await game.continue_gate(d, sid, "welcome")
    await game.submit_answer(d, sid, "first", 0)

    analysis = await item_analysis(
        services.store, "lists", lambda v: services.catalog.spec("lists", v)
    )

    (version,) = analysis.versions
    assert (version.sessions, version.completed, version.passed) == (4, 3, 2)
    steps = {s.step_id: s for s in version.steps}
    first = steps["first"]
    assert (first.reached, first.answered, first.first_try_passed) == (4, 4, 3)
    assert first.difficulty == 0.75
    assert first.discrimination == 1.0  # both passers right first time, the non-passer wrong
    assert [c.picked for c in first.choices] == [3, 1, 1]
    assert first.median_attempts == 1.0
    assert steps["changes"].dropped == 1 and steps["changes"].reached == 4
    chat = steps["tuple"]
    assert [(r.item_id, r.graded, r.full) for r in chat.rubric] == [
        ("immutable", 5, 2),
        ("use", 5, 2),
    ]
    assert steps["welcome"].difficulty is None  # a gate takes no answer
