"""``decide``: given a challenge, the session's state and a command, return the new events.

The engine is the only judge: grader verdicts come in as inputs and are clamped here. Nothing in this
module performs I/O, reads the clock or draws random numbers.
"""

from __future__ import annotations

import math
from dataclasses import replace

from core.engine.challenge import ChallengeSpec, StepKind, StepSpec
from core.engine.code import score_code_run, validate_code
from core.engine.commands import (
    AbandonSession,
    Command,
    ContinueGate,
    CreateSession,
    RecordCodeRun,
    RecordEvaluation,
    RecordHint,
    RecordNarration,
    RequestHint,
    ReviewGrade,
    StartSession,
    SubmitAnswer,
)
from core.engine.events import (
    Answer,
    AnswerGraded,
    AnswerSubmitted,
    Event,
    GradeReviewed,
    HintGiven,
    HintRequested,
    ItemResult,
    LlmTrace,
    SessionAbandoned,
    SessionCompleted,
    SessionCreated,
    SessionStarted,
    StepClosed,
    StepEntered,
    StepNarrated,
)
from core.engine.scoring import hint_cost, multi_credit, passes, round_points, xp_for
from core.engine.state import SessionState, Status, StepProgress, evolve
from core.errors import (
    AlreadyReviewed,
    AnswerConflict,
    AnswerTooLong,
    Conflict,
    InvalidAnswer,
    InvalidInput,
    NoHintsLeft,
    SessionNotActive,
    StepNotCurrent,
    WrongAction,
)

MAX_CHAT_ANSWER = 5000


def decide(challenge: ChallengeSpec, state: SessionState, command: Command) -> list[Event]:
    """Return the events that ``command`` causes, or raise a :class:`core.errors.DomainError`."""
    match command:
        case CreateSession():
            return _create(challenge, state, command)
        case StartSession():
            return _start(challenge, state, command)
        case SubmitAnswer():
            return _submit(challenge, state, command)
        case RecordEvaluation():
            return _record_evaluation(challenge, state, command)
        case RecordCodeRun():
            return _record_code_run(challenge, state, command)
        case ContinueGate():
            return _continue(challenge, state, command)
        case RequestHint():
            return _request_hint(challenge, state, command)
        case RecordHint():
            return _record_hint(challenge, state, command)
        case RecordNarration():
            return _record_narration(state, command)
        case ReviewGrade():
            return _review(challenge, state, command)
        case AbandonSession():
            if state.status not in (Status.CREATED, Status.ACTIVE):
                raise SessionNotActive(f"this session is {state.status.value}")
            return [SessionAbandoned(at=command.at)]
    raise TypeError(f"decide does not know {type(command).__name__}")


def _create(challenge: ChallengeSpec, state: SessionState, command: CreateSession) -> list[Event]:
    if state.status is not Status.NEW:
        raise Conflict("this session already exists")
    return [
        SessionCreated(
            at=command.at,
            session_id=command.session_id,
            learner_id=command.learner_id,
            challenge_id=challenge.id,
            challenge_version=challenge.version,
            title=challenge.title,
            total_steps=len(challenge.steps),
            max_score=challenge.max_score,
            passing_score=challenge.passing_score,
            xp=challenge.xp,
        )
    ]


def _start(challenge: ChallengeSpec, state: SessionState, command: StartSession) -> list[Event]:
    if state.status is not Status.CREATED:
        raise SessionNotActive(f"this session is {state.status.value}; it can only start once")
    return [SessionStarted(at=command.at), _enter(challenge.steps[0], 0, command.at)]


def _enter(step: StepSpec, index: int, at: str) -> StepEntered:
    return StepEntered(
        at=at,
        step_id=step.id,
        index=index,
        kind=step.kind.value,
        points=step.points,
        max_attempts=step.max_attempts,
        hints_available=step.hints_available,
        narrate=step.narrate,
    )


def _current(
    challenge: ChallengeSpec, state: SessionState, step_id: str
) -> tuple[StepProgress, StepSpec]:
    """Return the current step, provided ``step_id`` names it and the session is active."""
    if state.status is not Status.ACTIVE:
        raise SessionNotActive(f"this session is {state.status.value}, not active")
    current = state.current
    if current is None:
        raise SessionNotActive("this session has no current step")
    if step_id != current.step_id:
        raise StepNotCurrent(
            f"step {step_id!r} is not the current step (the current step is {current.step_id!r})"
        )
    return current, challenge.steps[current.index]


def _submit(challenge: ChallengeSpec, state: SessionState, command: SubmitAnswer) -> list[Event]:
    current, step = _current(challenge, state, command.step_id)
    if step.kind is StepKind.GATE:
        raise WrongAction("this step is a gate: continue past it instead of answering")
    if current.pending_attempt is not None:
        raise AnswerConflict("your previous answer to this step is still being graded")
    attempt = current.attempts + 1
    answer, display = _validate_answer(step, command.answer)
    submitted = AnswerSubmitted(
        at=command.at, step_id=step.id, attempt=attempt, answer=answer, display=display
    )
    if step.kind in (StepKind.CHAT, StepKind.CODE):
        # Grading a free-text answer is slow work the service does outside any transaction; it
        # comes back as RecordEvaluation. The pending attempt is visible in the stream meanwhile.
        return [submitted]
    raw, feedback = _grade_choice(step, answer)
    graded = _graded(step, current, attempt, raw, command.at, feedback=feedback, grader="engine")
    return [submitted, graded, *_after_grade(challenge, state, graded, command.xp_already_granted)]


def _validate_answer(step: StepSpec, answer: Answer) -> tuple[Answer, str]:
    """Check the answer's shape for the step; return it normalised, with a transcript line."""
    if step.kind is StepKind.MCQ:
        if isinstance(answer, bool) or not isinstance(answer, int):
            raise InvalidAnswer("this step takes one choice index (a whole number)")
        if not 0 <= answer < len(step.choices):
            raise InvalidAnswer(
                f"choice {answer} does not exist; pick 0 to {len(step.choices) - 1}"
            )
        return answer, step.choices[answer].text
    if step.kind is StepKind.MULTI:
        if not isinstance(answer, tuple | list) or any(
            isinstance(i, bool) or not isinstance(i, int) for i in answer
        ):
            raise InvalidAnswer("this step takes a list of choice indices")
        picked = tuple(sorted(set(answer)))
        if not picked:
            raise InvalidAnswer("pick at least one choice")
        if any(not 0 <= i < len(step.choices) for i in picked):
            raise InvalidAnswer(f"choices must be between 0 and {len(step.choices) - 1}")
        return picked, "; ".join(step.choices[i].text for i in picked)
    if step.kind is StepKind.TRUE_FALSE:
        if not isinstance(answer, bool):
            raise InvalidAnswer("this step takes true or false")
        return answer, "True" if answer else "False"
    if step.kind is StepKind.CODE:
        try:
            code = validate_code(answer)
        except ValueError as error:
            raise InvalidAnswer(str(error)) from None
        return code, code
    if not isinstance(answer, str):
        raise InvalidAnswer("this step takes a written answer")
    text = answer.strip()
    if not text:
        raise InvalidAnswer("the answer is empty; write a sentence or two")
    if len(text) > MAX_CHAT_ANSWER:
        raise AnswerTooLong(f"the answer is {len(text)} characters; the limit is {MAX_CHAT_ANSWER}")
    return text, text


def _grade_choice(step: StepSpec, answer: Answer) -> tuple[float, str]:
    if step.kind is StepKind.MCQ:
        assert isinstance(answer, int)
        choice = step.choices[answer]
        default = "Correct!" if choice.correct else "Not quite."
        return (float(step.points) if choice.correct else 0.0), choice.feedback or default
    if step.kind is StepKind.MULTI:
        assert isinstance(answer, tuple)
        raw = multi_credit(step.points, step.correct_choices, answer)
        notes = [note for i in answer if (note := step.choices[i].feedback)]
        verdict = "All correct!" if raw == step.points else "Partly right." if raw else "Not quite."
        return raw, " ".join([verdict, *notes])
    correct = answer == step.answer
    return (float(step.points) if correct else 0.0), ("Correct!" if correct else "Not quite.")


def _graded(
    step: StepSpec,
    current: StepProgress,
    attempt: int,
    raw: float,
    at: str,
    *,
    feedback: str,
    grader: str,
    items: tuple[ItemResult, ...] = (),
    rationale: str = "",
    flags: tuple[str, ...] = (),
    trace: LlmTrace | None = None,
    confidence: float | None = None,
    needs_review: bool = False,
) -> AnswerGraded:
    """Clamp a raw score to [0, points], cap it by what hints left, and decide the pass."""
    raw = round_points(min(max(raw, 0.0), float(step.points)))
    available = current.available
    return AnswerGraded(
        at=at,
        step_id=step.id,
        attempt=attempt,
        score=round_points(min(raw, available)),
        max_points=step.points,
        available=available,
        # A hint lowers what the step can earn, not whether a right answer counts as right.
        passed=passes(raw, step.points, step.pass_threshold),
        feedback=feedback,
        grader=grader,
        items=items,
        rationale=rationale,
        flags=flags,
        trace=trace,
        confidence=confidence,
        needs_review=needs_review,
    )


def _after_grade(
    challenge: ChallengeSpec, state: SessionState, graded: AnswerGraded, xp_already_granted: bool
) -> list[Event]:
    """Close the step on a pass or on the last attempt, then move on."""
    current = state.current
    assert current is not None
    step = challenge.steps[current.index]
    if not graded.passed and graded.attempt < current.max_attempts:
        return []
    best = max(current.best_score, graded.score)
    closed = StepClosed(
        at=graded.at,
        step_id=step.id,
        index=current.index,
        score=best,
        passed=graded.passed,
        explanation=step.explanation,
    )
    return [closed, *_advance(challenge, state, closed, xp_already_granted)]


def _advance(
    challenge: ChallengeSpec, state: SessionState, closed: StepClosed, xp_already_granted: bool
) -> list[Event]:
    next_index = closed.index + 1
    if next_index < len(challenge.steps):
        return [_enter(challenge.steps[next_index], next_index, closed.at)]
    total = round_points(state.score + closed.score)
    passed = passes(total, challenge.max_score, challenge.passing_score)
    xp = (
        xp_for(challenge.xp, total, challenge.max_score) if passed and not xp_already_granted else 0
    )
    return [
        SessionCompleted(
            at=closed.at, score=total, max_score=challenge.max_score, passed=passed, xp_granted=xp
        )
    ]


def _record_evaluation(
    challenge: ChallengeSpec, state: SessionState, command: RecordEvaluation
) -> list[Event]:
    current, step = _current(challenge, state, command.step_id)
    if current.pending_attempt != command.attempt:
        raise AnswerConflict(f"attempt {command.attempt} of {step.id!r} is not awaiting a grade")
    verdict = command.verdict
    claimed = {item.id: item for item in verdict.items}
    items = []
    for rubric_item in step.rubric:
        claim = claimed.get(rubric_item.id)
        claimed_points = claim.points if claim is not None and math.isfinite(claim.points) else 0.0
        earned = min(max(claimed_points, 0.0), float(rubric_item.points))
        items.append(
            ItemResult(
                id=rubric_item.id,
                points=round_points(earned),
                max_points=rubric_item.points,
                feedback="" if claim is None else claim.feedback,
            )
        )
    raw = sum(item.points for item in items)
    graded = _graded(
        step,
        current,
        command.attempt,
        raw,
        command.at,
        feedback=verdict.feedback,
        grader=verdict.grader,
        items=tuple(items),
        rationale=verdict.rationale,
        flags=verdict.flags,
        trace=verdict.trace,
        confidence=_confidence(verdict.confidence),
        needs_review=verdict.needs_review,
    )
    return [graded, *_after_grade(challenge, state, graded, command.xp_already_granted)]


def _confidence(value: float | None) -> float | None:
    """A grader's confidence, clamped to [0, 1] and kept to three decimals (None stays None)."""
    if value is None or not math.isfinite(value):
        return None
    return round(min(max(value, 0.0), 1.0), 3)


def _record_code_run(
    challenge: ChallengeSpec, state: SessionState, command: RecordCodeRun
) -> list[Event]:
    current, step = _current(challenge, state, command.step_id)
    if current.pending_attempt != command.attempt or step.kind is not StepKind.CODE:
        raise AnswerConflict(f"attempt {command.attempt} of {step.id!r} is not awaiting a run")
    raw, feedback, items = score_code_run(step, command.results, command.run)
    graded = _graded(
        step,
        current,
        command.attempt,
        raw,
        command.at,
        feedback=feedback,
        grader=f"sandbox:{command.run.sandbox}",
        items=items,
    )
    graded = replace(graded, code_run=command.run)
    return [graded, *_after_grade(challenge, state, graded, command.xp_already_granted)]


def _continue(challenge: ChallengeSpec, state: SessionState, command: ContinueGate) -> list[Event]:
    current, step = _current(challenge, state, command.step_id)
    if step.kind is not StepKind.GATE:
        raise WrongAction("only a gate can be continued past; this step needs an answer")
    closed = StepClosed(at=command.at, step_id=step.id, index=current.index, score=0.0, passed=True)
    return [closed, *_advance(challenge, state, closed, command.xp_already_granted)]


def _request_hint(
    challenge: ChallengeSpec, state: SessionState, command: RequestHint
) -> list[Event]:
    current, step = _current(challenge, state, command.step_id)
    if current.pending_hint is not None:
        return []  # already asked for; the pending hint will arrive
    if current.pending_attempt is not None:
        # A hint must not lower what an answer already submitted can earn.
        raise AnswerConflict("your answer is being graded; ask for a hint once you see the result")
    index = current.hints_taken
    if index >= current.hints_available:
        raise NoHintsLeft("there are no hints left for this step")
    if index < len(step.hints):
        return [
            HintGiven(
                at=command.at,
                step_id=step.id,
                hint_index=index,
                text=step.hints[index],
                source="authored",
                cost_points=hint_cost(step.points, step.hint_cost),
            )
        ]
    return [HintRequested(at=command.at, step_id=step.id, hint_index=index)]


def _record_hint(challenge: ChallengeSpec, state: SessionState, command: RecordHint) -> list[Event]:
    current, step = _current(challenge, state, command.step_id)
    if current.pending_hint != command.hint_index:
        raise Conflict(f"hint {command.hint_index} of {step.id!r} was not requested")
    return [
        HintGiven(
            at=command.at,
            step_id=step.id,
            hint_index=command.hint_index,
            text=command.text,
            source=command.source,
            cost_points=hint_cost(step.points, step.hint_cost),
            trace=command.trace,
        )
    ]


def _record_narration(state: SessionState, command: RecordNarration) -> list[Event]:
    current = state.current
    if state.status is not Status.ACTIVE or current is None or current.step_id != command.step_id:
        raise StepNotCurrent(f"step {command.step_id!r} is no longer current")
    if not current.narrate or current.narrated:
        raise Conflict(f"step {command.step_id!r} needs no narration")
    return [
        StepNarrated(
            at=command.at,
            step_id=command.step_id,
            text=command.text,
            source=command.source,
            trace=command.trace,
        )
    ]


def _review(challenge: ChallengeSpec, state: SessionState, command: ReviewGrade) -> list[Event]:
    """A reviewer's verdict replaces the grader's for one attempt of a chat step; the step, the
    total and (once complete) the result and XP follow it.

    On a step the learner is still working on, a review that makes the attempt pass closes the
    step as passed and the session moves on, as if the grader had passed it; any other review
    changes the attempt's points and leaves the learner's remaining attempts as they were.
    """
    if state.status is Status.NEW:
        raise InvalidInput("there is no such session")
    closed = next((s for s in state.closed_steps if s.step_id == command.step_id), None)
    current = state.current
    open_step = current if current is not None and current.step_id == command.step_id else None
    record = closed if closed is not None else open_step
    if record is None:
        raise InvalidInput(f"step {command.step_id!r} has no graded answers in this session")
    step = challenge.steps[record.index]
    if step.kind is not StepKind.CHAT:
        raise WrongAction("only written (chat) answers are reviewed; choice steps are exact")
    graded = record.grades
    grade = next((g for g in graded if g.attempt == command.attempt), None)
    if grade is None:
        raise InvalidInput(f"step {command.step_id!r} has no graded attempt {command.attempt}")
    if grade.reviewed and not command.replace:
        raise AlreadyReviewed(
            f"attempt {command.attempt} of {command.step_id!r} is already reviewed; "
            'send "replace": true to replace that review'
        )
    items = _reviewed_items(step, grade.items, command)
    if command.items is not None and step.rubric:
        raw = sum(item.points for item in items)
    elif command.passed == grade.passed:
        raw = grade.score
    else:
        # Flipping pass/fail without points per item: full marks for a pass, none for a fail.
        raw = float(step.points) if command.passed else 0.0
    score = round_points(min(max(raw, 0.0), float(step.points), grade.available))
    grades = [
        (score, command.passed) if g.attempt == command.attempt else (g.score, g.passed)
        for g in graded
    ]
    step_score = max(points for points, _ in grades)
    step_passed = any(passed for _, passed in grades)
    reviewed = GradeReviewed(
        at=command.at,
        step_id=step.id,
        attempt=command.attempt,
        score=score,
        max_points=step.points,
        passed=command.passed,
        previous_score=grade.score,
        previous_passed=grade.passed,
        step_score=step_score,
        step_passed=step_passed,
        session_score=state.score,
        items=items,
        comment=command.comment.strip(),
    )
    if open_step is not None:
        return _review_open_step(challenge, state, open_step, reviewed, command)
    assert closed is not None
    total = round_points(state.score - closed.score + step_score)
    result_passed: bool | None = None
    xp_after = 0
    xp_before = state.result.xp_granted if state.result is not None else 0
    if state.result is not None:
        result_passed = passes(total, state.max_score, state.passing_score)
        # XP follows the reviewed result: this session keeps (and re-sizes) a grant it holds, and
        # earns one on a new pass unless another session of the challenge already holds it.
        holds_or_may_claim = xp_before > 0 or not command.xp_already_granted
        if result_passed and holds_or_may_claim:
            xp_after = xp_for(state.xp, total, state.max_score)
    return [
        replace(
            reviewed,
            session_score=total,
            result_passed=result_passed,
            xp_granted=xp_after,
            xp_change=xp_after - xp_before,
        )
    ]


def _review_open_step(
    challenge: ChallengeSpec,
    state: SessionState,
    current: StepProgress,
    reviewed: GradeReviewed,
    command: ReviewGrade,
) -> list[Event]:
    """A review of an attempt on the current step: a pass closes it and the session advances."""
    if not reviewed.step_passed or state.status is not Status.ACTIVE:
        # Points change, attempts left do not; an abandoned session stays where it stopped.
        return [reviewed]
    if current.pending_attempt is not None or current.pending_hint is not None:
        # Closing the step now would strand the learner's newer answer (or hint) being prepared.
        raise Conflict(
            f"the learner's newer answer to {current.step_id!r} is being graded; "
            "review again once it is"
        )
    step = challenge.steps[current.index]
    closed = StepClosed(
        at=command.at,
        step_id=step.id,
        index=current.index,
        score=reviewed.step_score,
        passed=True,
        explanation=step.explanation,
    )
    after = evolve(state, reviewed)
    return [reviewed, closed, *_advance(challenge, after, closed, command.xp_already_granted)]


def _reviewed_items(
    step: StepSpec, graded: tuple[ItemResult, ...], command: ReviewGrade
) -> tuple[ItemResult, ...]:
    """The rubric items after review: the reviewer's points (clamped) where given, else the
    grader's; an item id the rubric does not have is refused."""
    given = {item.id: item for item in command.items or ()}
    known = {item.id for item in step.rubric}
    unknown = sorted(set(given) - known)
    if unknown:
        raise InvalidInput(
            f"rubric item(s) {', '.join(unknown)} do not exist on step {step.id!r}; "
            f"its items are {', '.join(sorted(known)) or 'none'}"
        )
    before = {item.id: item for item in graded}
    result = []
    for rubric_item in step.rubric:
        claim = given.get(rubric_item.id)
        old = before.get(rubric_item.id)
        if claim is None:
            points = old.points if old is not None else 0.0
        elif not math.isfinite(claim.points):
            raise InvalidInput(f"the points for {rubric_item.id!r} must be a finite number")
        else:
            points = min(max(claim.points, 0.0), float(rubric_item.points))
        result.append(
            ItemResult(
                id=rubric_item.id,
                points=round_points(points),
                max_points=rubric_item.points,
                feedback=old.feedback if old is not None else "",
            )
        )
    return tuple(result)


def run(
    challenge: ChallengeSpec, state: SessionState, command: Command
) -> tuple[SessionState, list[Event]]:
    """Decide and evolve in one go: return the new state and the events that produced it."""
    events = decide(challenge, state, command)
    for event in events:
        state = evolve(state, event)
    return state, events
