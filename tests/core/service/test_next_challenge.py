"""The result screen's "next challenge": the next one not yet passed, by difficulty."""

from __future__ import annotations

from core.service.catalog import ChallengeSummary, next_challenge
from tests.core.service.conftest import ADA, quiz


def summary(challenge_id: str, difficulty: str, title: str | None = None) -> ChallengeSummary:
    return ChallengeSummary(
        challenge_id, 1, title or challenge_id, "", difficulty, (), 5, 10, 70, 1, 10, ("mcq",)
    )


CATALOGUE = [
    summary("hard", "advanced"),
    summary("basics", "beginner", "A"),
    summary("more", "beginner", "B"),
    summary("middle", "intermediate"),
]


def test_the_next_is_the_following_one_in_difficulty_order():
    chosen = next_challenge(CATALOGUE, set(), "basics")
    assert chosen is not None and chosen.id == "more"
    chosen = next_challenge(CATALOGUE, set(), "more")
    assert chosen is not None and chosen.id == "middle"


def test_passed_challenges_are_skipped():
    chosen = next_challenge(CATALOGUE, {"more", "middle"}, "basics")
    assert chosen is not None and chosen.id == "hard"


def test_after_the_hardest_an_easier_one_not_yet_passed_is_suggested():
    chosen = next_challenge(CATALOGUE, {"basics"}, "hard")
    assert chosen is not None and chosen.id == "more"


def test_the_challenge_just_played_is_never_suggested_even_when_failed():
    chosen = next_challenge(CATALOGUE, {"more", "middle", "hard"}, "basics")
    assert chosen is None


def test_nothing_is_suggested_when_every_other_challenge_is_passed():
    assert next_challenge(CATALOGUE, {"basics", "more", "middle"}, "hard") is None
    assert next_challenge([], set(), "basics") is None


async def test_a_finished_session_suggests_the_next_challenge_not_yet_passed(services):
    await services.catalog.publish(
        quiz(id="sequel", title="The sequel", difficulty="intermediate"), at="2026-01-01T00:00:00"
    )
    game = services.game
    view = await game.create_session(ADA, "quiz")
    view = await game.start_session(ADA, view.session_id)
    assert view.result is None
    view = await game.abandon(ADA, view.session_id)
    assert view.result is None  # an abandoned session has no result screen

    view = await game.create_session(ADA, "quiz")
    view = await game.start_session(ADA, view.session_id)
    view = await game.continue_gate(ADA, view.session_id, "welcome")
    view = await game.submit_answer(ADA, view.session_id, "pick", 0)
    view = await game.submit_answer(ADA, view.session_id, "truth", True)
    view = await game.submit_answer(ADA, view.session_id, "explain", "reuse a named block")
    assert view.result is not None and view.result.passed
    suggested = view.result.next_challenge
    assert suggested is not None
    assert (suggested.id, suggested.title, suggested.difficulty) == (
        "sequel",
        "The sequel",
        "intermediate",
    )
    again = await game.get_view(ADA, view.session_id)
    assert again.result is not None and again.result.next_challenge == suggested
