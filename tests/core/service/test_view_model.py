"""The session view is typed once: enums for status and kinds, the answer limit carried in it."""

from __future__ import annotations

from core.engine.challenge import StepKind
from core.engine.decide import MAX_CHAT_ANSWER
from core.engine.state import Status
from core.engine.view import Outcome, Verdict, view_to_dict
from tests.core.service.conftest import ADA


async def test_the_view_carries_enums_and_the_answer_limit(services):
    game = services.game
    view = await game.create_session(ADA, "quiz")
    assert view.status is Status.CREATED
    view = await game.start_session(ADA, view.session_id)
    assert view.step is not None and view.step.kind is StepKind.GATE
    assert view.step.answer_max_chars is None
    view = await game.continue_gate(ADA, view.session_id, "welcome")
    view = await game.submit_answer(ADA, view.session_id, "pick", 1)  # wrong: retry allowed
    [feedback] = view.feedback
    assert feedback.outcome is Outcome.WRONG
    assert [o.verdict for o in feedback.options] == [
        Verdict.NOT_SHOWN,  # the right answer stays hidden while the step is open
        Verdict.WRONG,
        Verdict.NOT_SHOWN,
    ]
    view = await game.submit_answer(ADA, view.session_id, "pick", 0)
    view = await game.submit_answer(ADA, view.session_id, "truth", True)
    assert view.step is not None and view.step.kind is StepKind.CHAT
    assert view.step.answer_max_chars == MAX_CHAT_ANSWER
    plain = view_to_dict(view)
    assert plain["status"] == "active" and plain["step"]["kind"] == "chat"
    assert plain["step"]["answer_max_chars"] == 5000
