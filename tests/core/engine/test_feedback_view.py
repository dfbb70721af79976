"""What a graded answer means, in the view: the outcome, each option, whole points, hint deductions,
and the result screen's per-step breakdown. The engine decides these; channels only render them."""

from __future__ import annotations

from core.engine.commands import RequestHint, SubmitAnswer
from core.engine.state import fold
from core.engine.view import project_view
from tests.core.engine.builders import (
    LATER,
    challenge,
    chat,
    evaluate,
    given,
    multi,
    on_step,
    play,
    true_false,
)

CH = challenge(multi("pick", points=20, correct=(0, 1, 2), n_choices=4, max_attempts=2))


def after(*commands, ch=CH, index=0):
    state = given(on_step(ch, index))
    return fold(play(ch, *commands, state=state), state)


def answer(choice, step_id="pick"):
    return SubmitAnswer(at=LATER, step_id=step_id, answer=choice)


def test_a_passing_partial_answer_is_partly_right_not_correct_and_names_each_option():
    view = project_view(CH, after(answer([0, 1])))  # two of three right, none wrong: 13.33 of 20

    (feedback,) = view.feedback
    assert feedback.outcome == "partly"
    assert [(o.index, o.chosen, o.verdict) for o in feedback.options] == [
        (0, True, "right"),
        (1, True, "right"),
        (2, False, "missed"),  # the step closed (it passed), so the missed choice is named
        (3, False, ""),
    ]
    assert (feedback.score_shown, feedback.max_points) == (13, 20)


def test_an_open_step_keeps_missed_choices_hidden_so_a_retry_is_still_a_question():
    view = project_view(CH, after(answer([0, 3])))  # one right, one wrong: 0 points, one retry

    (feedback,) = view.feedback
    assert [o.verdict for o in feedback.options] == ["right", "", "", "wrong"]
    assert feedback.missed_hidden == 2


def test_a_closed_step_names_the_missed_choices_and_the_wrong_pick():
    view = project_view(CH, after(answer([0, 3]), answer([0, 3])))

    last = view.feedback[-1]
    assert last.outcome == "partly"
    assert [o.verdict for o in last.options] == ["right", "missed", "missed", "wrong"]
    assert last.missed_hidden == 0


def test_an_answer_carried_into_later_states_is_explained_as_its_step_now_stands():
    """The entries of an answer stay the same objects from state to state (each explanation is
    worked out once per entry), yet the step closing still reveals what the retry missed."""
    first = after(answer([0, 3]))
    closed = fold(play(CH, answer([0, 3]), state=first), first)
    assert closed.transcript[: len(first.transcript)] == first.transcript
    assert all(a is b for a, b in zip(first.transcript, closed.transcript, strict=False))

    open_view, closed_view = project_view(CH, first), project_view(CH, closed)

    assert [o.verdict for o in open_view.feedback[0].options] == ["right", "", "", "wrong"]
    assert [o.verdict for o in closed_view.feedback[0].options] == [
        "right",
        "missed",
        "missed",
        "wrong",
    ]
    assert project_view(CH, first) == open_view  # and the open step's view is still its own


def test_an_all_correct_answer_is_correct_and_shows_whole_points():
    view = project_view(CH, after(answer([0, 1, 2])))

    assert view.feedback[0].outcome == "correct"
    assert view.progress.score_shown == 20


def test_hint_deductions_are_itemised_for_a_chat_answer():
    ch = challenge(chat("why", rubric=(("a", 10), ("b", 10), ("c", 10)), hints=("h",) * 3))
    state = after(
        RequestHint(at=LATER, step_id="why"),
        RequestHint(at=LATER, step_id="why"),
        RequestHint(at=LATER, step_id="why"),
        answer("my answer", step_id="why"),
        ch=ch,
    )
    state = fold(play(ch, evaluate(1, ("a", 10), ("b", 10), ("c", 10)), state=state), state)

    (feedback,) = project_view(ch, state).feedback
    assert feedback.outcome == "correct"
    assert (feedback.earned_shown, feedback.hint_deduction_shown, feedback.score_shown) == (
        30,
        9,
        21,
    )


def test_the_result_has_a_per_step_breakdown_in_whole_points():
    ch = challenge(multi("pick", points=20, correct=(0, 1, 2), n_choices=4, hints=("h",)))
    state = after(RequestHint(at=LATER, step_id="pick"), answer([0, 1]), ch=ch)

    result = project_view(ch, state).result
    assert result is not None
    (row,) = result.steps
    assert (row.step_id, row.score_shown, row.points, row.attempts, row.hints) == (
        "pick",
        13,
        20,
        1,
        1,
    )
    assert row.hint_deduction_shown == 2
    assert result.score_shown == 13 and result.percent_shown == 67


def test_a_right_true_false_answer_after_a_hint_is_correct_with_the_deduction_itemised():
    ch = challenge(true_false("tf", points=10, hints=("h",)))
    state = after(RequestHint(at=LATER, step_id="tf"), answer(False, step_id="tf"), ch=ch)

    (feedback,) = project_view(ch, state).feedback
    assert feedback.outcome == "correct"
    assert (feedback.earned_shown, feedback.hint_deduction_shown, feedback.score_shown) == (
        10,
        1,
        9,
    )


def test_learners_who_picked_the_same_set_share_its_options_and_others_get_their_own():
    """The options of a graded choice are worked out once per (step, set picked, revealed) and
    shared; a different set, or the same set once the step closes, gets its own."""
    first = project_view(CH, after(answer([0, 3]))).feedback[0]
    second = project_view(CH, after(answer([3, 0]))).feedback[0]  # another learner, same set
    other = project_view(CH, after(answer([0, 1]))).feedback[0]
    closed = project_view(CH, after(answer([0, 3]), answer([1, 2]))).feedback[0]

    assert second.options is first.options
    assert other.options is not first.options
    assert [o.verdict for o in other.options] == ["right", "right", "missed", ""]
    assert closed.options is not first.options
    assert [o.verdict for o in closed.options] == ["right", "missed", "missed", "wrong"]
    assert (first.missed_hidden, closed.missed_hidden) == (2, 0)
