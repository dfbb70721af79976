"""Session use cases: every channel calls these, one call per learner action.

Each call loads the session (this process's hydrated state, or the latest snapshot + later events),
lets the engine decide, appends the events with the version it decided on, and only then runs any
LLM work the events ask for — outside every transaction, with a deadline — appending the outcome as
further events. A hydrated state that the log has moved past is refused by that append and the
command decided again on the log (``_execute``).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TypeVar

from core.engine import ChallengeSpec, SessionState, Status, StepKind, decide, fold
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
from core.engine.events import Answer, Event, SessionCompleted, decode, encode
from core.engine.state import STATE_SCHEMA_VERSION, state_from_dict
from core.engine.view import NextChallengeView, SessionView, project_view
from core.errors import (
    AnswerConflict,
    Conflict,
    DomainError,
    Forbidden,
    IdempotencyKeyReused,
    LearnerNotFound,
    SessionNotFound,
    StepNotCurrent,
    Unauthorized,
)
from core.llm.base import EvaluationRequest, HintRequest, NarrationRequest, RubricCriterion
from core.llm.hint_guard import answer_key_of
from core.llm.orchestrator import LlmOrchestrator
from core.sandbox.models import CodeRunner
from core.service.actor import (
    EVENT_ACTOR_KEY,
    SESSION_ENDED,
    SYSTEM_GRADER,
    SYSTEM_HINTS,
    SYSTEM_NARRATOR,
    AccessCheck,
    Actor,
    is_admin_role,
)
from core.service.catalog import Catalog, next_challenge
from core.service.clock import Clock, new_id
from core.service.code_runs import CodeGrading, CodeTrial, RecordedElsewhere
from core.service.grading_learning import LearnedGrading
from core.service.hydrated import HydratedSessions, Loaded
from core.service.idempotency import request_digest
from core.service.jobs import JobQueue
from core.service.llm_context import llm_context, progress_summary
from core.service.review_queue import review_changes, xp_changes
from core.service.session_changes import ChangePublisher
from core.service.single_flight import SingleFlight, pending_key
from core.service.snapshots import snapshot_of
from core.service.telemetry import SessionMetrics
from core.store.base import (
    AccessClaim,
    AccessRevoked,
    AppendResult,
    ConcurrencyError,
    NewEvent,
    ReadModelChanges,
    SessionSummary,
    Store,
    StoredEvent,
    XpAlreadyGranted,
    XpGrant,
)
from core.store.base import IdempotencyKeyReused as StoredKeyReused
from core.store.rate_counters import RateCounters

log = logging.getLogger(__name__)

MAX_CONFLICT_RETRIES = 5
MAX_PENDING_ROUNDS = 8
# Hydrated sessions kept per process (core/service/hydrated.py): reads fold what the log holds after
# the kept version; actions are decided on it and checked by the append's expected version.
STATE_CACHE_SIZE = 2048


CommandBuilder = Callable[[Loaded], Awaitable[Command]]
T = TypeVar("T")


class GameService:
    """The use cases of a session: create, start, answer, continue, hint, abandon, view."""

    def __init__(
        self,
        *,
        store: Store,
        catalog: Catalog,
        llm: LlmOrchestrator,
        clock: Clock,
        snapshot_interval: int = 5,
        id_factory: Callable[[], str] = new_id,
        metrics: SessionMetrics | None = None,
        code_runner: CodeRunner | None = None,
        code_trials_per_minute: int = 10,
        review_sample_rate: float = 0.05,
        jobs: JobQueue | None = None,
        changes: ChangePublisher | None = None,
        rate_counters: RateCounters | None = None,
        learning: LearnedGrading | None = None,
    ) -> None:
        self._store = store
        self._catalog = catalog
        self._llm = llm
        self._clock = clock
        self._snapshot_interval = snapshot_interval
        self._new_id = id_factory
        self._metrics = metrics
        self._in_flight: SingleFlight[Command | None] = SingleFlight()
        self._code = CodeGrading(
            code_runner, clock, trials_per_minute=code_trials_per_minute, counters=rate_counters
        )
        self._states = HydratedSessions(STATE_CACHE_SIZE)
        self._review_sample_rate = review_sample_rate  # REVIEW_SAMPLE_RATE
        # PENDING_WORK=queue: pending LLM work becomes a job for `curiouscore worker`.
        self._jobs = jobs
        self._changes = changes  # tells stream subscribers (SSE) that a session moved on
        self._learning = learning  # per-step models learned from reviews (grading_learning.py)

    # -- use cases ---------------------------------------------------------------------------

    async def create_session(self, actor: Actor | AccessClaim, challenge_id: str) -> SessionView:
        """Create a session of the challenge's latest version for the actor (an access claim:
        checked by the append, see ``_claimed``)."""
        access = AccessCheck(actor)
        return await self._claimed(access, self._create(access, challenge_id))

    async def _create(self, actor: AccessCheck, challenge_id: str) -> SessionView:
        # A claim the append finds current proves its learner exists: no read for that.
        if actor.claim is None and await self._store.get_learner(actor.learner_id) is None:
            raise LearnerNotFound(f"learner {actor.learner_id!r} does not exist")
        challenge = await self._catalog.latest_spec(challenge_id)
        session_id = self._new_id()
        command = CreateSession(
            at=self._clock.now(), session_id=session_id, learner_id=actor.learner_id
        )
        events = decide(challenge, SessionState(), command)
        loaded = await self._append(
            Loaded(challenge, SessionState()),
            events,
            [actor.learner_id] * len(events),
            None,
            access=actor,
        )
        log.info("session created", extra={"session_id": session_id, "challenge_id": challenge_id})
        return await self._view(loaded)

    async def start_session(
        self, actor: Actor | AccessClaim, session_id: str, *, idempotency_key: str | None = None
    ) -> SessionView:
        """Enter the first step (and narrate it when the step asks for narration)."""
        return await self._execute(
            actor, session_id, self._plain(StartSession), idempotency_key, request_digest("start")
        )

    async def submit_answer(
        self,
        actor: Actor | AccessClaim,
        session_id: str,
        step_id: str,
        answer: Answer,
        *,
        idempotency_key: str | None = None,
        settle: bool = True,
    ) -> SessionView:
        """Answer the current step; a chat answer is graded before the view returns, unless
        ``settle`` is False (the view then shows it awaiting its grade; any later read grades it).
        """

        async def build(loaded: Loaded) -> Command:
            current = loaded.state.current
            if current is not None and current.kind == StepKind.CODE.value:
                await self._code.ensure_available()  # refuse before an attempt is spent
            return SubmitAnswer(
                at=self._clock.now(),
                step_id=step_id,
                answer=answer,
                xp_already_granted=await self._xp_already_granted(loaded.state),
            )

        digest = request_digest("answer", step_id=step_id, answer=answer)
        return await self._execute(actor, session_id, build, idempotency_key, digest, settle=settle)

    async def continue_gate(
        self,
        actor: Actor | AccessClaim,
        session_id: str,
        step_id: str,
        *,
        idempotency_key: str | None = None,
    ) -> SessionView:
        async def build(loaded: Loaded) -> Command:
            return ContinueGate(
                at=self._clock.now(),
                step_id=step_id,
                xp_already_granted=await self._xp_already_granted(loaded.state),
            )

        digest = request_digest("continue", step_id=step_id)
        return await self._execute(actor, session_id, build, idempotency_key, digest)

    async def request_hint(
        self,
        actor: Actor | AccessClaim,
        session_id: str,
        step_id: str,
        *,
        idempotency_key: str | None = None,
    ) -> SessionView:
        async def build(loaded: Loaded) -> Command:
            return RequestHint(at=self._clock.now(), step_id=step_id)

        digest = request_digest("hint", step_id=step_id)
        return await self._execute(actor, session_id, build, idempotency_key, digest)

    async def abandon(
        self, actor: Actor, session_id: str, *, idempotency_key: str | None = None
    ) -> SessionView:
        return await self._execute(
            actor,
            session_id,
            self._plain(AbandonSession),
            idempotency_key,
            request_digest("abandon"),
        )

    async def try_code(self, actor: Actor, session_id: str, step_id: str, code: str) -> CodeTrial:
        """Run the current code step's visible tests on ``code``: nothing recorded, no attempt."""
        loaded = await self._load_owned(AccessCheck(actor), session_id)
        return await self._code.trial(loaded.challenge, loaded.state, step_id, code)

    async def get_view(self, actor: Actor | AccessClaim, session_id: str) -> SessionView:
        """The session view; finishes any LLM work a crashed process left pending. An access
        claim is checked by the stream read."""
        access = AccessCheck(actor)
        return await self._claimed(access, self._get_view(access, session_id))

    async def _get_view(self, actor: AccessCheck, session_id: str) -> SessionView:
        loaded = await self._settle(await self._load_owned(actor, session_id))
        return await self._view(loaded)

    async def read_view(self, actor: Actor, session_id: str) -> SessionView:
        """The session view as recorded, running no pending work (what a change stream sends)."""
        loaded = await self._load_owned(AccessCheck(actor), session_id)
        return project_view(loaded.challenge, loaded.state)

    async def list_sessions(self, actor: Actor) -> list[SessionSummary]:
        return await self._store.list_sessions(actor.learner_id)

    async def session_events(self, actor: Actor, session_id: str) -> list[StoredEvent]:
        """The session's event log, for its owner or an admin."""
        await self._load_owned(AccessCheck(actor), session_id)
        return await self._store.read_stream(session_id)

    async def replay(self, session_id: str) -> SessionState:
        """Fold the whole stream from its first event, ignoring snapshots (for verification)."""
        stored = await self._store.read_stream(session_id)
        if not stored:
            raise SessionNotFound(f"there is no session {session_id!r}")
        return fold(decode(e.type, e.schema_version, e.data) for e in stored)

    async def hydrate(self, session_id: str) -> SessionState:
        """The session's state from its latest snapshot plus later events."""
        return (await self._load(session_id)).state

    async def review_grade(self, reviewer: Actor, session_id: str, review: ReviewGrade) -> Loaded:
        """Record a reviewer's verdict on a graded attempt (``GradeReviewed``, by the reviewer);
        the engine decides what it changes. Retries when a racing writer got in first."""
        if not reviewer.can_review:
            raise Forbidden("only reviewers, authors and admins may review grades")
        loaded = await self._load(session_id)
        for _ in range(MAX_CONFLICT_RETRIES):
            held = loaded.state.result is not None and loaded.state.result.xp_granted > 0
            command = replace(
                review,
                xp_already_granted=not held
                and await self._store.has_xp_grant(
                    loaded.state.learner_id, loaded.state.challenge_id
                ),
            )
            try:
                reviewed = (
                    await self._decide_and_append(loaded, command, None, actor=reviewer.learner_id)
                    or loaded
                )
            except ConcurrencyError:
                loaded = await self._load(session_id)
                continue
            if self._learning is not None:  # a new label for the step: retrain off this path
                self._learning.schedule(reviewed.state.challenge_id, review.step_id)
            return reviewed
        raise AnswerConflict("this session is busy; please try again")

    # -- the write path ----------------------------------------------------------------------

    def _plain(self, command_type: Callable[..., Command]) -> CommandBuilder:
        async def build(loaded: Loaded) -> Command:
            return command_type(at=self._clock.now())

        return build

    async def _claimed(self, access: AccessCheck, work: Awaitable[T]) -> T:
        """Run ``work``, a use case acting for ``access``: nothing it returns or raises leaves
        before the access claim is checked (by its statement, or by ``ensure``), and a claim that
        is no longer current is ``Unauthorized``, whatever else went wrong."""
        try:
            result = await work
        except AccessRevoked:
            raise Unauthorized(SESSION_ENDED) from None
        except DomainError:
            await access.ensure(self._store)  # a refusal tells a revoked token nothing either
            raise
        await access.ensure(self._store)
        return result

    async def _execute(
        self,
        actor: Actor | AccessClaim,
        session_id: str,
        build: CommandBuilder,
        idempotency_key: str | None,
        digest: str | None = None,
        *,
        settle: bool = True,
    ) -> SessionView:
        """Decide ``build``'s command and append its events for ``actor`` (an access claim is
        checked by the append: see ``_claimed``)."""
        access = AccessCheck(actor)
        return await self._claimed(
            access,
            self._execute_checked(
                access, session_id, build, idempotency_key, digest, settle=settle
            ),
        )

    async def _execute_checked(
        self,
        actor: AccessCheck,
        session_id: str,
        build: CommandBuilder,
        idempotency_key: str | None,
        digest: str | None,
        *,
        settle: bool,
    ) -> SessionView:
        """Decide ``build``'s command and append its events; a retry of a recorded request (same
        idempotency key) returns the session as it is now and appends nothing.

        The command is decided on this process's hydrated state when it has one, without reading
        the log first: the append's expected version refuses a stale copy, and the command is
        then decided again on the log as it is (so is any error or empty decision the copy gave).
        A retried request is found by the append itself (the store checks the key before the
        version), or looked up when the command decides nothing or fails.

        The append checks ``actor``'s access claim first, and so does every read of the log here
        (at no cost: the same statement); a path that ran neither checks it with a read of its
        own before it returns the session or runs pending work for it.
        """
        loaded, verified = await self._load_to_act(actor, session_id)
        try:
            for _ in range(MAX_CONFLICT_RETRIES):
                try:
                    decided = await self._decide_and_append(
                        loaded,
                        await build(loaded),
                        idempotency_key,
                        digest,
                        actor=actor.learner_id,
                        access=actor,
                    )
                except ConcurrencyError:
                    fresh = await self._load(session_id, checking=actor)
                    if verified or self._states.written_after(session_id, loaded.state.version):
                        # A racing writer won after our state was read: retry only if its
                        # events leave the command's premise intact.
                        _raise_if_moved(loaded.state, fresh.state)
                    loaded, verified = fresh, True
                    continue
                except DomainError:
                    if verified:
                        raise
                    loaded, verified = await self._load(session_id, checking=actor), True
                    continue
                if decided is None:  # the command decided nothing
                    if not verified:
                        loaded, verified = await self._load(session_id, checking=actor), True
                        continue
                    if idempotency_key is not None:
                        seen = await self._store.find_idempotent(session_id, idempotency_key)
                        if seen is not None:
                            await actor.ensure(self._store)
                            return await self._repeat(session_id, seen, digest)
                loaded = decided or loaded
                break
            else:
                raise AnswerConflict("this session is busy; please try again")
        except StoredKeyReused:
            raise _key_reused() from None
        except DomainError:
            if idempotency_key is not None:
                # A retry of a request whose events are recorded: the step may have moved on.
                seen = await self._store.find_idempotent(session_id, idempotency_key)
                if seen is not None:
                    await actor.ensure(self._store)
                    return await self._repeat(session_id, seen, digest)
            raise
        await actor.ensure(self._store)  # before pending work runs for it (a no-op once appended)
        if settle or self._jobs is not None:
            loaded = await self._settle(loaded)
        return await self._view(loaded)

    async def _repeat(self, session_id: str, seen: AppendResult, digest: str | None) -> SessionView:
        """A retry of a request already recorded: the state it produced (read afresh, so never
        the state from before it), and nothing appended; a different request is refused."""
        if seen.request_digest is not None and digest is not None and seen.request_digest != digest:
            raise _key_reused()
        loaded = await self._settle(await self._load(session_id))
        return await self._view(loaded)

    async def _decide_and_append(
        self,
        loaded: Loaded,
        command: Command,
        idempotency_key: str | None,
        digest: str | None = None,
        *,
        actor: str,
        access: AccessCheck | None = None,
    ) -> Loaded | None:
        """Decide, add any instant pending work, and append it all in one transaction; None when
        the command decides nothing (nothing is appended).

        ``actor`` recorded the command's events; instant pending work is recorded by the system
        actor that does it (the grader, the hint giver, the narrator). The append checks
        ``access``'s claim, if any.

        The XP grant is claimed in that transaction: when another session of the same challenge
        claimed it first, decide again knowing so, so the stored ``SessionCompleted`` is true.
        """
        xp_known = False
        while True:
            events = decide(loaded.challenge, loaded.state, command)
            if not events:
                return None
            actors = [actor] * len(events)
            events, actors, after = await self._with_instant_work(loaded, events, actors, xp_known)
            try:
                return await self._append(
                    loaded, events, actors, idempotency_key, digest, after, access=access
                )
            except XpAlreadyGranted:
                if xp_known:
                    raise
                xp_known = True
                command = _knowing_xp(command)

    async def _with_instant_work(
        self, loaded: Loaded, events: list[Event], actors: list[str], xp_known: bool = False
    ) -> tuple[list[Event], list[str], SessionState]:
        """When the pending work the events ask for is instant (the offline provider: authored
        narration and hints, the rubric evaluator), do it now so it joins the same append.
        Returns the events, their actors and the state after them.

        ``xp_known``: the append was refused because the XP is already granted.
        """
        state = fold(events, loaded.state)
        for _ in range(MAX_PENDING_ROUNDS):
            if not self._is_instant(loaded.challenge, state):
                break
            command = await self._pending_work(Loaded(loaded.challenge, state))
            if command is None:
                break
            if xp_known:
                command = _knowing_xp(command)
            try:
                more = decide(loaded.challenge, state, command)
            except Conflict:
                break  # left for _settle, which handles it
            if not more:
                break
            events = [*events, *more]
            actors = [*actors, *[_system_actor(command)] * len(more)]
            state = fold(more, state)
        return events, actors, state

    def _is_instant(self, challenge: ChallengeSpec, state: SessionState) -> bool:
        """Whether the work pending on ``state`` runs locally without waiting on anything."""
        current = state.current
        if not self._llm.is_offline or state.status is not Status.ACTIVE or current is None:
            return False
        if challenge.llm_provider not in (None, "offline"):
            return False
        step = challenge.steps[current.index]
        if current.pending_attempt is not None:
            return step.kind.value == "chat"
        return current.pending_hint is not None or (current.narrate and not current.narrated)

    async def _append(
        self,
        loaded: Loaded,
        events: list[Event],
        actors: list[str],
        idempotency_key: str | None,
        digest: str | None = None,
        after: SessionState | None = None,
        *,
        access: AccessCheck | None = None,
    ) -> Loaded:
        """Append ``events`` (each recorded by its actor) with the read models they change
        (session summary, snapshot, XP grant) in one transaction; ``after`` is the state they
        lead to, when the caller has folded them already. The append checks ``access``'s claim,
        if any, before anything else (``AccessRevoked``)."""
        state = loaded.state
        stream_id = state.session_id or _session_id_of(events)
        new_state = after if after is not None else fold(events, state)
        result = await self._store.append(
            stream_id,
            [
                NewEvent(event.NAME, _with_actor(encode(event), actor), event.SCHEMA_VERSION)
                for event, actor in zip(events, actors, strict=True)
            ],
            expected_version=state.version,
            idempotency_key=idempotency_key,
            recorded_at=self._clock.now(),
            request_digest=digest,
            changes=self._read_model_changes(state, new_state, events, actors),
            access=None if access is None else access.claim,
        )
        if access is not None:
            access.checked()
        if result.duplicate:
            return await self._load(stream_id)
        self._after_append(new_state, events)
        return self._states.remember(Loaded(loaded.challenge, new_state), written=True)

    def _read_model_changes(
        self,
        before: SessionState,
        after: SessionState,
        events: list[Event],
        actors: list[str] | None = None,
    ) -> ReadModelChanges:
        """The read-model rows ``events`` change, to be written with them."""
        grant = None
        for event in events:
            if isinstance(event, SessionCompleted) and event.xp_granted > 0:
                grant = XpGrant(
                    after.learner_id,
                    after.challenge_id,
                    after.session_id,
                    event.xp_granted,
                    event.at,
                )
        snapshot = None
        if after.version // self._snapshot_interval > before.version // self._snapshot_interval:
            snapshot = snapshot_of(after)
        queued, reviewed = review_changes(
            before, events, actors or [""] * len(events), self._review_sample_rate
        )
        review_grant, adjustment = xp_changes(after, events)
        return ReadModelChanges(
            summary=session_summary(after),
            snapshot=snapshot,
            xp_grant=grant or review_grant,
            review_items=queued,
            review_outcomes=reviewed,
            xp_adjustment=adjustment,
        )

    def _after_append(self, after: SessionState, events: list[Event]) -> None:
        """Metrics, logs and change notifications, once the events are stored."""
        if self._changes is not None:
            self._changes.publish(after.session_id, after.version)
        if self._metrics is not None:
            self._metrics.observe(events)
        for event in events:
            if isinstance(event, SessionCompleted):
                log.info(
                    "session completed",
                    extra={
                        "session_id": after.session_id,
                        "passed": event.passed,
                        "score": event.score,
                        "xp_granted": event.xp_granted,
                    },
                )

    async def _xp_already_granted(self, state: SessionState) -> bool:
        """Only the last step can complete a session, so only then is the XP ledger consulted."""
        current = state.current
        if current is None or current.index < state.total_steps - 1:
            return False
        return await self._store.has_xp_grant(state.learner_id, state.challenge_id)

    # -- pending LLM work, outside every transaction ------------------------------------------

    async def settle_pending(self, session_id: str) -> SessionState:
        """Run the session's pending work here and record it (what a queued job does); a
        session with nothing pending, or whose work another process recorded, is left as it is."""
        return (await self._settle_here(await self._load(session_id))).state

    async def _settle(self, loaded: Loaded) -> Loaded:
        """Have the pending work done: here, or (PENDING_WORK=queue) by a worker's job."""
        if self._jobs is None:
            return await self._settle_here(loaded)
        if has_pending_work(loaded.state):
            await self._jobs.defer_settle(loaded.state.session_id)
        return loaded

    async def _settle_here(self, loaded: Loaded) -> Loaded:
        """Run the LLM work the stream asks for (grading, hints, narration), then record it."""
        if not has_pending_work(loaded.state):
            return loaded  # what _pending_work would say, without the single flight's round
        for _ in range(MAX_PENDING_ROUNDS):
            # One evaluation (hint, narration) per pending request in this process: a second
            # reader of the same session waits for the first instead of calling the LLM again.
            try:
                command = await self._in_flight.run(
                    pending_key(loaded.state), functools.partial(self._pending_work, loaded)
                )
            except RecordedElsewhere:  # another process ran the code and recorded its grade
                loaded = await self._load(loaded.state.session_id)
                continue
            if command is None:
                return loaded
            try:
                loaded = (
                    await self._decide_and_append(
                        loaded, command, None, actor=_system_actor(command)
                    )
                    or loaded
                )
            except (ConcurrencyError, Conflict):
                # Another process recorded it first, or the step moved on: read what happened.
                loaded = await self._load(loaded.state.session_id)
        return loaded

    async def _still_pending(self, state: SessionState) -> bool:
        """Whether the session's current attempt is still waiting for its grade in the store."""
        fresh = (await self._load(state.session_id)).state.current
        current = state.current
        return (
            fresh is not None
            and current is not None
            and fresh.index == current.index
            and fresh.pending_attempt == current.pending_attempt
        )

    async def _pending_work(self, loaded: Loaded) -> Command | None:
        """The command recording the pending work done (a grade, a hint, a narration), or None
        when nothing is pending."""
        state, challenge = loaded.state, loaded.challenge
        current = state.current
        if current is None or not has_pending_work(state):
            return None
        step = challenge.steps[current.index]
        rubric = tuple(
            RubricCriterion(r.id, r.description, r.points, r.concepts, r.misconceptions)
            for r in step.rubric
        )
        if current.pending_attempt is not None and step.kind is StepKind.CODE:
            return await self._code.pending_run(
                challenge,
                state,
                xp_already_granted=await self._xp_already_granted(state),
                still_pending=functools.partial(self._still_pending, state),
            )
        context = llm_context(challenge, state)
        if current.pending_attempt is not None:
            request = EvaluationRequest(
                prompt=step.prompt or step.title,
                rubric=rubric,
                reference_answer=step.reference_answer,
                answer=str(current.pending_answer),
                points=step.points,
                pass_threshold=step.pass_threshold,
                pass_examples=step.pass_examples,
                fail_examples=step.fail_examples,
            )
            if self._learning is not None:
                request = self._learning.augment(request, challenge.id, step.id, challenge.version)
            verdict = await self._llm.evaluate(request, context)
            return RecordEvaluation(
                at=self._clock.now(),
                step_id=step.id,
                attempt=current.pending_attempt,
                verdict=verdict,
                xp_already_granted=await self._xp_already_granted(state),
            )
        if current.pending_hint is not None:
            own = [e for e in state.transcript if e.step_id == step.id]
            result, source = await self._llm.hint(
                HintRequest(
                    challenge_title=challenge.title,
                    step_title=step.title,
                    step_kind=step.kind.value,
                    prompt=step.prompt or step.title,
                    choices=tuple(choice.text for choice in step.choices),
                    rubric=rubric,
                    hint_index=current.pending_hint,
                    previous_hints=tuple(e.text for e in own if e.kind == "hint"),
                    previous_answers=tuple(e.text for e in own if e.kind == "answer"),
                    answer_key=answer_key_of(step),
                ),
                context,
            )
            return RecordHint(
                at=self._clock.now(),
                step_id=step.id,
                hint_index=current.pending_hint,
                text=result.text,
                source=source,
                trace=result.trace,
            )
        if current.narrate and not current.narrated:
            result, source = await self._llm.narrate(
                NarrationRequest(
                    challenge_title=challenge.title,
                    tone=challenge.tone,
                    persona=challenge.persona,
                    step_title=step.title,
                    step_body=step.body,
                    authored_text=step.narration,
                    progress_summary=progress_summary(challenge, state),
                ),
                context,
            )
            return RecordNarration(
                at=self._clock.now(),
                step_id=step.id,
                text=result.text,
                source=source,
                trace=result.trace,
            )
        return None

    # -- the read path -----------------------------------------------------------------------

    async def _view(self, loaded: Loaded) -> SessionView:
        """The session view; a finished session's result also suggests the next challenge."""
        view = project_view(loaded.challenge, loaded.state)
        if view.result is None:
            return view
        passed = {
            s.challenge_id
            for s in await self._store.list_sessions(loaded.state.learner_id)
            if s.passed
        }
        suggestion = next_challenge(
            await self._catalog.summaries(), passed, loaded.state.challenge_id
        )
        if suggestion is None:
            return view
        suggested = NextChallengeView(
            suggestion.id, suggestion.title, suggestion.difficulty, suggestion.estimated_minutes
        )
        return replace(view, result=replace(view.result, next_challenge=suggested))

    async def _load(self, session_id: str, *, checking: AccessCheck | None = None) -> Loaded:
        """The session as the log has it now: the cached state plus any later events, or (not
        cached) the latest snapshot plus later events. The stream read checks ``checking``'s
        access claim, if any (``AccessRevoked``)."""
        cached = self._states.get(session_id)
        if cached is not None:
            # Events are append-only: folding what came after the cached version is always
            # right, whoever wrote it; a cache miss only costs the snapshot read.
            stored = await self._read_stream(session_id, cached.state.version, checking)
            loaded = cached
            if stored:
                later = fold(
                    (decode(e.type, e.schema_version, e.data) for e in stored), cached.state
                )
                loaded = Loaded(cached.challenge, later)
            return self._states.remember(loaded)
        snapshot = await self._store.load_snapshot(session_id)
        state: SessionState | None = None
        if snapshot is not None and snapshot.schema_version == STATE_SCHEMA_VERSION:
            try:
                state = state_from_dict(snapshot.state)
            except (TypeError, ValueError, KeyError):
                log.warning("unreadable snapshot ignored", extra={"session_id": session_id})
        stored = await self._read_stream(session_id, state.version if state else 0, checking)
        if state is None and not stored:
            raise SessionNotFound(f"there is no session {session_id!r}")
        state = fold((decode(e.type, e.schema_version, e.data) for e in stored), state)
        challenge = await self._catalog.spec(state.challenge_id, state.challenge_version)
        return self._states.remember(Loaded(challenge, state))

    async def _read_stream(
        self, session_id: str, after_version: int, checking: AccessCheck | None
    ) -> list[StoredEvent]:
        """The stream read, checking ``checking``'s access claim in the same statement."""
        if checking is None or checking.claim is None:
            return await self._store.read_stream(session_id, after_version)
        stored = await self._store.read_stream_for(checking.claim, session_id, after_version)
        checking.checked()
        return stored

    async def _load_owned(self, actor: AccessCheck, session_id: str) -> Loaded:
        """The session as the log has it now, when ``actor`` may read it (its learner or an
        admin); the stream read checks ``actor``'s access claim, if any."""
        try:
            loaded = await self._load(session_id, checking=actor)
        except SessionNotFound:
            raise SessionNotFound(f"there is no session {session_id!r}") from None
        _check_owner(actor, loaded.state, session_id, acting=False)
        return loaded

    async def _load_to_act(self, actor: AccessCheck, session_id: str) -> tuple[Loaded, bool]:
        """The state to decide ``actor``'s command on, and whether it was read from the log just
        now (False: this process's hydrated copy, which may be behind the log)."""
        cached = self._states.get(session_id)
        if cached is not None:
            _check_owner(actor, cached.state, session_id, acting=True)
            return cached, False
        try:
            loaded = await self._load(session_id, checking=actor)
        except SessionNotFound:
            raise SessionNotFound(f"there is no session {session_id!r}") from None
        _check_owner(actor, loaded.state, session_id, acting=True)
        return loaded, True


def _check_owner(actor: AccessCheck, state: SessionState, session_id: str, *, acting: bool) -> None:
    """Refuse unless ``actor`` may read the session (its learner, or an admin) or, when
    ``acting``, act on it (its learner only: an admin reading it gets ``Forbidden``).

    On an access claim not checked yet this only decides what to do; the caller's statement (or
    ``AccessCheck.ensure``) checks the claim before the outcome leaves."""
    if state.learner_id != actor.learner_id:
        if not is_admin_role(actor.role):
            # Someone else's session is indistinguishable from a missing one.
            raise SessionNotFound(f"there is no session {session_id!r}")
        if acting:
            raise Forbidden("admins may read this session, but only its learner can play it")


def has_pending_work(state: SessionState) -> bool:
    """Whether the session waits on work outside the learner's hands (a grade, a hint, a
    narration): what a queued job or a later read settles."""
    current = state.current
    if state.status is not Status.ACTIVE or current is None:
        return False
    return (
        current.pending_attempt is not None
        or current.pending_hint is not None
        or (current.narrate and not current.narrated)
    )


def _with_actor(data: dict[str, object], actor: str) -> dict[str, object]:
    """The event's data with who recorded it (an event that names its own actor keeps it).

    ``data`` is ``encode``'s new mapping, the caller's alone: the actor is added to it rather
    than to a copy (the same keys in the same order). With the summary row built by position:
    the use cases in process 900k → 893k instructions per request, the whole app 1,166k →
    1,158k (``bench_asgi --callgrind [--through service]``)."""
    if EVENT_ACTOR_KEY not in data:
        data[EVENT_ACTOR_KEY] = actor
    return data


def _system_actor(command: Command) -> str:
    """Who records the outcome of pending work: the grader, the hint giver or the narrator."""
    if isinstance(command, RecordEvaluation | RecordCodeRun):
        return SYSTEM_GRADER
    if isinstance(command, RecordHint):
        return SYSTEM_HINTS
    return SYSTEM_NARRATOR


def _knowing_xp(command: Command) -> Command:
    """The command decided again once the store said the learner already holds the XP."""
    if isinstance(
        command, SubmitAnswer | ContinueGate | RecordEvaluation | RecordCodeRun | ReviewGrade
    ):
        return replace(command, xp_already_granted=True)
    return command


def _key_reused() -> IdempotencyKeyReused:
    return IdempotencyKeyReused(
        "this Idempotency-Key was already used for a different request; "
        "send a new key with a new request"
    )


def _fingerprint(state: SessionState) -> tuple[object, ...]:
    current = state.current
    if current is None:
        return (state.status, None)
    return (
        state.status,
        current.step_id,
        current.attempts,
        current.hints_taken,
        current.pending_attempt,
        current.pending_hint,
    )


def _raise_if_moved(before: SessionState, after: SessionState) -> None:
    """A racing writer won. Retry only when what it wrote leaves our command's premise intact."""
    if _fingerprint(before) == _fingerprint(after):
        return
    if before.current is not None and (
        after.current is None or after.current.step_id != before.current.step_id
    ):
        raise StepNotCurrent("this step has already been answered and the session moved on")
    if before.status is not after.status and before.current is None:
        return  # start/abandon: deciding again on the fresh state gives the right answer or error
    raise AnswerConflict("another answer to this step was recorded first; here is the latest state")


def _session_id_of(events: list[Event]) -> str:
    for event in events:
        session_id = getattr(event, "session_id", None)
        if isinstance(session_id, str):
            return session_id
    raise ValueError("a new stream must begin with SessionCreated")


# Each status's text (``Status.value`` is a Python-level descriptor call on every read; with
# review_changes' loop below, the use cases 967k → 962k instructions per request).
_STATUS_TEXT = {status: status.value for status in Status}


def session_summary(state: SessionState) -> SessionSummary:
    """The session-index row for ``state`` (a projection; rebuildable from the events)."""
    current, result = state.current, state.result
    # By position, in SessionSummary's field order (tested): one row per append.
    return SessionSummary(
        state.session_id,
        state.learner_id,
        state.challenge_id,
        state.challenge_version,
        _STATUS_TEXT[state.status],
        current.index if current is not None else state.steps_closed,  # state.step_index
        state.total_steps,
        state.score,
        float(state.max_score),
        result.passed if result else None,
        state.created_at,
        state.updated_at,
    )
