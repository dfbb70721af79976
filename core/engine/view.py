"""The session view: the declarative, platform-neutral UI every channel renders (PRODUCT §4)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.engine.challenge import ChallengeSpec, CodeSpec, StepKind, StepSpec
from core.engine.code import MAX_CODE_ANSWER
from core.engine.decide import MAX_CHAT_ANSWER
from core.engine.frozen import quick_init
from core.engine.memo import BoundedDict, IdentityMemo, ObjectMemo
from core.engine.plain import to_plain
from core.engine.scoring import round_half_up, round_points
from core.engine.state import SessionState, Status, StepOutcome, StepProgress, TranscriptEntry


class UiMode(StrEnum):
    CONTINUE_GATE = "CONTINUE_GATE"
    MCQ_SINGLE = "MCQ_SINGLE"
    MCQ_MULTI = "MCQ_MULTI"
    TRUE_FALSE = "TRUE_FALSE"
    CHAT = "CHAT"
    CODE = "CODE"
    COMPLETED = "COMPLETED"
    # Extensions for the two states without a step to play.
    NOT_STARTED = "NOT_STARTED"
    ABANDONED = "ABANDONED"


class Outcome(StrEnum):
    """What a graded answer came to."""

    CORRECT = "correct"
    PARTLY = "partly"
    WRONG = "wrong"


class Verdict(StrEnum):
    """One choice of a graded answer (see :class:`OptionFeedback`)."""

    RIGHT = "right"
    WRONG = "wrong"
    MISSED = "missed"
    NOT_SHOWN = ""


# The longest answer each kind of step takes, in characters (the engine refuses longer ones).
ANSWER_MAX_CHARS = {StepKind.CHAT: MAX_CHAT_ANSWER, StepKind.CODE: MAX_CODE_ANSWER}

UI_MODE_BY_KIND = {
    StepKind.GATE: UiMode.CONTINUE_GATE,
    StepKind.MCQ: UiMode.MCQ_SINGLE,
    StepKind.MULTI: UiMode.MCQ_MULTI,
    StepKind.TRUE_FALSE: UiMode.TRUE_FALSE,
    StepKind.CHAT: UiMode.CHAT,
    StepKind.CODE: UiMode.CODE,
}


@quick_init
@dataclass(frozen=True, slots=True)
class CodeTestView:
    """A test as the learner sees it: a hidden test's code is never sent."""

    id: str
    points: int
    hidden: bool
    code: str | None


@quick_init
@dataclass(frozen=True, slots=True)
class CodeView:
    language: str
    starter: str
    tests: tuple[CodeTestView, ...]
    time_limit_seconds: float
    memory_limit_mb: int


@quick_init
@dataclass(frozen=True, slots=True)
class StepView:
    id: str
    index: int
    kind: StepKind
    title: str
    body: str | None
    prompt: str | None
    choices: tuple[str, ...]
    points: int
    available: float
    attempts_used: int
    attempts_left: int
    hints_left: int
    awaiting_grade: bool
    awaiting_hint: bool
    available_shown: int = 0
    code: CodeView | None = None
    # the longest text answer the step takes (chat and code steps; None for choices and gates)
    answer_max_chars: int | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Progress:
    step_index: int
    total_steps: int
    score: float
    max_score: int
    score_shown: int = 0


@quick_init
@dataclass(frozen=True, slots=True)
class OptionFeedback:
    """One choice of a graded answer: whether it was picked, and what that was.

    ``verdict`` is ``right`` (picked, correct), ``wrong`` (picked, not correct), ``missed`` (a
    correct choice not picked; named only once the step is closed, so a retry stays a question)
    or ``""`` (not picked and not revealed)."""

    index: int
    text: str
    chosen: bool
    verdict: Verdict
    feedback: str | None


@quick_init
@dataclass(frozen=True, slots=True)
class FeedbackView:
    """What a graded answer means, in whole points: the outcome (``correct``, ``partly`` or
    ``wrong``), each option, the points before and after the hint deduction."""

    step_id: str
    attempt_at: str
    outcome: Outcome
    score_shown: int
    max_points: int
    earned_shown: int
    hint_deduction_shown: int
    options: tuple[OptionFeedback, ...] = ()
    missed_hidden: int = 0


@quick_init
@dataclass(frozen=True, slots=True)
class StepResultView:
    """One row of the result screen's breakdown."""

    step_id: str
    index: int
    title: str
    kind: StepKind | None
    score: float
    score_shown: int
    points: int
    passed: bool
    attempts: int
    hints: int
    hint_deduction_shown: int


@quick_init
@dataclass(frozen=True, slots=True)
class NextChallengeView:
    """The challenge the result screen suggests next (chosen by the service, not the engine)."""

    id: str
    title: str
    difficulty: str
    estimated_minutes: int


@quick_init
@dataclass(frozen=True, slots=True)
class ResultView:
    passed: bool
    score: float
    max_score: int
    percent: float
    xp_granted: int
    passing_score: int
    score_shown: int = 0
    percent_shown: int = 0
    steps: tuple[StepResultView, ...] = field(default_factory=tuple)
    # the next challenge not yet passed by this learner (None when all are, or not looked up)
    next_challenge: NextChallengeView | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class SessionView:
    session_id: str
    challenge_id: str
    challenge_version: int
    title: str
    status: Status
    ui_mode: UiMode
    step: StepView | None
    transcript: tuple[TranscriptEntry, ...]
    progress: Progress
    result: ResultView | None
    version: int
    created_at: str
    updated_at: str
    # one entry per graded answer in the transcript, in the same order (keyed by step and time)
    feedback: tuple[FeedbackView, ...] = ()
    # The ``seq`` of the latest transcript entry (0 before any): what a channel has to deliver.
    transcript_seq: int = 0


def project_view(challenge: ChallengeSpec, state: SessionState) -> SessionView:
    """Return the view of ``state``; the challenge supplies the texts the events do not carry.

    A view is a function of the two alone, and a session read after its last write is the state
    that write answered with (the same object, from the service's hydrated sessions): that view
    is returned again (``_VIEWS``), the same object, instead of being built anew."""
    kept = _VIEWS.get(id(state))
    if kept is not None and kept[0] is state and kept[1] is challenge:
        return kept[2]
    view = _project_view(challenge, state)
    _VIEWS.keep(id(state), (state, challenge, view))  # (kept objects keep their ids their own)
    return view


def _project_view(challenge: ChallengeSpec, state: SessionState) -> SessionView:
    step_view = None
    if state.status is Status.COMPLETED:
        mode = UiMode.COMPLETED
    elif state.status is Status.ABANDONED:
        mode = UiMode.ABANDONED
    elif state.current is None:
        mode = UiMode.NOT_STARTED
    else:
        current = state.current
        spec = challenge.steps[current.index]
        mode = UI_MODE_BY_KIND[spec.kind]
        step_view = _step_view(spec, current)
    result = None
    if state.result is not None:
        r = state.result
        percent = round_points(100 * r.score / r.max_score) if r.max_score else 100.0
        result = ResultView(
            r.passed,
            r.score,
            r.max_score,
            percent,
            r.xp_granted,
            state.passing_score,
            score_shown=round_half_up(r.score),
            percent_shown=round_half_up(percent),
            steps=tuple(_step_result(challenge, o) for o in state.outcomes),
        )
    return SessionView(
        session_id=state.session_id,
        challenge_id=state.challenge_id,
        challenge_version=state.challenge_version,
        title=state.title,
        status=state.status,
        ui_mode=mode,
        step=step_view,
        transcript=state.transcript,
        progress=Progress(
            state.step_index,
            state.total_steps,
            state.score,
            state.max_score,
            score_shown=round_half_up(state.score),
        ),
        result=result,
        version=state.version,
        created_at=state.created_at,
        updated_at=state.updated_at,
        feedback=feedback_views(challenge, state),
        transcript_seq=state.transcript[-1].seq if state.transcript else 0,
    )


# The latest views (up to 512, then none again, as an ObjectMemo), by state and the challenge
# they were projected with: an IdentityMemo's key tuple and least-recently-used order cost
# ~1.4 µs a miss, and five in six views in issue 17's flow are new.
_VIEWS: BoundedDict[int, tuple[SessionState, ChallengeSpec, SessionView]] = BoundedDict(512)


def _step_view(spec: StepSpec, current: StepProgress) -> StepView:
    """The step as the learner sees it: a function of the step and five numbers and two flags of
    the learner's progress on it, so every learner at the same point of a step shares one view
    (``_STEP_VIEWS``), and its JSON is written once. Building one (17 fields) cost ~16k
    instructions, about a fifth of a projection."""
    available = current.available  # (a property that rounds: read once)
    index = current.index
    attempts = current.attempts
    attempts_left = current.attempts_left
    hints_left = current.hints_left
    awaiting_grade = current.pending_attempt is not None
    awaiting_hint = current.pending_hint is not None
    # Keyed by value, so each value's type too where equal values are written differently
    # (``1 == 1.0``; ``available`` is an int when the points and the hint costs are ints).
    key = (
        id(spec), index, attempts, attempts_left, hints_left, type(available), available,
        awaiting_grade, awaiting_hint,
    )  # fmt: skip
    kept = _STEP_VIEWS.get(key)
    if kept is not None and kept[0] is spec:
        return kept[1]
    view = StepView(
        id=spec.id,
        index=index,
        kind=spec.kind,
        title=spec.title,
        body=spec.body,
        prompt=spec.prompt,
        choices=_CHOICE_TEXTS.get(spec, _choice_texts),
        points=spec.points,
        available=available,
        attempts_used=attempts,
        attempts_left=attempts_left,
        hints_left=hints_left,
        awaiting_grade=awaiting_grade,
        awaiting_hint=awaiting_hint,
        available_shown=round_half_up(available),
        code=_code_view(spec.code) if spec.code is not None else None,
        answer_max_chars=ANSWER_MAX_CHARS.get(spec.kind),
    )
    if type(index) is type(attempts) is type(attempts_left) is type(hints_left) is int:
        _STEP_VIEWS.keep(key, (spec, view))  # (a kept step keeps its id its own)
    return view


_STEP_VIEWS: BoundedDict[tuple[Any, ...], tuple[StepSpec, StepView]] = BoundedDict(4096)


def _choice_texts(spec: StepSpec) -> tuple[str, ...]:
    return tuple(choice.text for choice in spec.choices)


# Each step's choice texts, one tuple per step (its view's ``choices``), for the catalogue's steps.
_CHOICE_TEXTS: ObjectMemo[tuple[str, ...]] = ObjectMemo(4096)


def _step_result(challenge: ChallengeSpec, outcome: StepOutcome) -> StepResultView:
    spec = challenge.steps[outcome.index] if outcome.index < len(challenge.steps) else None
    return StepResultView(
        step_id=outcome.step_id,
        index=outcome.index,
        title=spec.title if spec else outcome.step_id,
        kind=spec.kind if spec else None,
        score=outcome.score,
        score_shown=round_half_up(outcome.score),
        points=outcome.points,
        passed=outcome.passed,
        attempts=outcome.attempts,
        hints=outcome.hints,
        hint_deduction_shown=round_half_up(outcome.hint_cost_points),
    )


def feedback_views(challenge: ChallengeSpec, state: SessionState) -> tuple[FeedbackView, ...]:
    """Given the state, explain every graded answer in its transcript (see :class:`FeedbackView`).
    A step still open keeps its missed choices hidden, so a retry is not answered for the learner.

    Each explanation depends only on the step, the feedback entry, the answer it graded and
    whether the step is still open, and the entries stay the same objects from one state to the
    next: each is worked out once (``_FEEDBACK``), not again for every later view of the session."""
    steps = _STEPS_BY_ID.get(challenge, _steps_by_id)
    open_step = state.current.step_id if state.current is not None else None
    picked: dict[str, TranscriptEntry] = {}
    views = []
    for entry in state.transcript:
        if entry.kind == "answer":
            picked[entry.step_id] = entry
            continue
        spec = steps.get(entry.step_id)
        if entry.kind != "feedback" or spec is None or entry.score is None:
            continue
        answer = picked.get(entry.step_id)
        revealed = entry.step_id != open_step
        views.append(_FEEDBACK.get((spec, entry, answer, revealed), _feedback_view))
    return tuple(views)


# Explanations by (step, feedback entry, answer, revealed), for the sessions in play.
_FEEDBACK: IdentityMemo[FeedbackView] = IdentityMemo(4096)


def _steps_by_id(challenge: ChallengeSpec) -> dict[str, StepSpec]:
    return {spec.id: spec for spec in challenge.steps}


# Each challenge version's steps by id (read-only once built).
_STEPS_BY_ID: ObjectMemo[dict[str, StepSpec]] = ObjectMemo(256)


def _feedback_view(
    spec: StepSpec, entry: TranscriptEntry, answer: TranscriptEntry | None, reveal: bool
) -> FeedbackView:
    """The explanation of the graded answer ``entry`` of step ``spec`` (``answer`` the entry of
    what was picked); ``reveal``: the step is closed, so missed choices are named."""
    assert entry.score is not None
    max_points = entry.max_points if entry.max_points is not None else spec.points
    available = entry.available if entry.available is not None else float(max_points)
    earned = _earned(entry, available)
    options: tuple[OptionFeedback, ...] = ()
    hidden = 0
    if spec.choices and answer is not None and answer.choice is not None:
        choice = answer.choice
        chosen = frozenset((choice,) if isinstance(choice, int) else choice)
        options, hidden, outcome = _graded_choices(spec, chosen, reveal)
    else:
        outcome = _score_outcome(earned, max_points)
    return FeedbackView(
        step_id=entry.step_id,
        attempt_at=entry.at,
        outcome=outcome,
        score_shown=round_half_up(entry.score),
        max_points=max_points,
        earned_shown=round_half_up(earned),
        hint_deduction_shown=round_half_up(max(0.0, max_points - available)),
        options=options,
        missed_hidden=hidden,
    )


def _graded_choices(
    spec: StepSpec, chosen: frozenset[int], reveal: bool
) -> tuple[tuple[OptionFeedback, ...], int, Outcome]:
    """The options of a choice step's graded answer, the correct choices left hidden, and the
    outcome: a function of the step, the set picked and ``reveal`` alone, so every learner who
    picked the same set of a step shares them (``_GRADED_CHOICES``, keyed by the set's value:
    only ``i in chosen`` is asked of it, so equal sets give equal options)."""
    key = (id(spec), chosen, reveal)
    kept = _GRADED_CHOICES.get(key)
    if kept is not None and kept[0] is spec:
        return kept[1]
    options = tuple(
        OptionFeedback(
            i,
            choice.text,
            i in chosen,
            _verdict(i in chosen, choice.correct, reveal),
            choice.feedback if i in chosen or reveal else None,
        )
        for i, choice in enumerate(spec.choices)
    )
    hidden = sum(1 for i in spec.correct_choices if i not in chosen) if not reveal else 0
    graded = (options, hidden, _choice_outcome(options, hidden))
    return _GRADED_CHOICES.keep(key, (spec, graded))[1]  # (a kept step keeps its id its own)


_GRADED_CHOICES: BoundedDict[
    tuple[int, frozenset[int], bool],
    tuple[StepSpec, tuple[tuple[OptionFeedback, ...], int, Outcome]],
] = BoundedDict(4096)


def _earned(entry: TranscriptEntry, available: float) -> float:
    """Points the answer itself earned before the hint deduction capped it."""
    if entry.items:
        return sum(item.points for item in entry.items)
    score = max(entry.score or 0.0, 0.0)
    if entry.passed and score + 1e-9 >= available and entry.max_points is not None:
        # capped by the hint deduction: a passing all-or-nothing answer earned the full points
        return float(entry.max_points)
    return score


def _verdict(chosen: bool, correct: bool, reveal: bool) -> Verdict:
    if chosen:
        return Verdict.RIGHT if correct else Verdict.WRONG
    return Verdict.MISSED if correct and reveal else Verdict.NOT_SHOWN


def _choice_outcome(options: tuple[OptionFeedback, ...], hidden: int) -> Outcome:
    verdicts = {o.verdict for o in options}
    if Verdict.RIGHT in verdicts and not verdicts & {Verdict.WRONG, Verdict.MISSED} and not hidden:
        return Outcome.CORRECT
    return Outcome.PARTLY if Verdict.RIGHT in verdicts else Outcome.WRONG


def _score_outcome(earned: float, max_points: int) -> Outcome:
    if earned + 1e-9 >= max_points:
        return Outcome.CORRECT
    return Outcome.PARTLY if earned > 0 else Outcome.WRONG


def _code_view(code: CodeSpec) -> CodeView:
    tests = tuple(
        CodeTestView(t.id, t.points, t.hidden, None if t.hidden else (t.code or t.setup or None))
        for t in code.tests
    )
    return CodeView(
        code.language, code.starter, tests, code.time_limit_seconds, code.memory_limit_mb
    )


def view_to_dict(view: SessionView) -> dict[str, Any]:
    """The view as JSON-able data: what every channel renders."""
    data: dict[str, Any] = to_plain(view)
    return data
