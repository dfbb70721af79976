"""Item analysis from the event log: difficulty, discrimination, wrong choices, rubric hits, drop-off."""

from __future__ import annotations

from core.bootstrap import build_services
from core.config import Settings
from core.engine.events import decode
from core.service import item_analysis as item_analysis_module
from core.service.actor import Actor
from core.service.item_analysis import analyse, item_analysis
from core.store import InMemoryStore
from core.store.base import StoredEvent
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


class ReadsRecorded(InMemoryStore):
    """An in-memory store that notes the streams whose events it returns once ``recording`` is
    on, and refuses to read the whole log then."""

    def __init__(self) -> None:
        super().__init__()
        self.recording = False
        self.streams_read: set[str] = set()

    async def read_stream(self, stream_id: str, after_version: int = 0) -> list[StoredEvent]:
        events = await super().read_stream(stream_id, after_version)
        if self.recording:
            self.streams_read |= {e.stream_id for e in events}
        return events

    async def read_challenge_streams(
        self, challenge_id: str, after_session_id: str = "", sessions: int = 100
    ) -> list[StoredEvent]:
        events = await super().read_challenge_streams(challenge_id, after_session_id, sessions)
        if self.recording:
            self.streams_read |= {e.stream_id for e in events}
        return events

    async def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        assert not self.recording, "item analysis read the whole event log"
        return await super().read_all(after_position, limit)


async def test_item_analysis_reads_only_the_streams_of_the_challenges_sessions(monkeypatch):
    monkeypatch.setattr(item_analysis_module, "SESSIONS_PER_PAGE", 1)  # one session a page
    store = ReadsRecorded()
    services = await build_services(Settings(database_url="memory://"), store=store)
    await services.catalog.publish(make_challenge(), at=services.clock.now())
    other = make_challenge(lambda data: data.update(id="other"))
    await services.catalog.publish(other, at=services.clock.now())
    game = services.game
    played: dict[str, list[str]] = {"lists": [], "other": []}
    for n, (learner, challenge, pick) in enumerate(
        [("a", "lists", 0), ("b", "other", 1), ("c", "lists", 1), ("d", "other", 0)]
    ):
        await services.learners.ensure_learner(learner, learner)
        actor = Actor(learner)
        sid = (await game.create_session(actor, challenge)).session_id
        await game.start_session(actor, sid)
        await game.continue_gate(actor, sid, "welcome")
        await game.submit_answer(actor, sid, "first", pick)
        if n == 0:
            await game.abandon(actor, sid)
        played[challenge].append(sid)
    # What reading the whole log finds for "lists", for comparison.
    log = await store.read_all(0, 100_000)
    streams = [
        [decode(e.type, e.schema_version, e.data) for e in log if e.stream_id == sid]
        for sid in played["lists"]
    ]
    whole_log = analyse("lists", streams, {1: await services.catalog.spec("lists", 1)})

    store.recording = True
    analysis = await item_analysis(store, "lists", lambda v: services.catalog.spec("lists", v))

    assert store.streams_read == set(played["lists"])
    assert analysis == whole_log
    (version,) = analysis.versions
    first = next(s for s in version.steps if s.step_id == "first")
    assert (version.sessions, first.reached, first.first_try_passed) == (2, 2, 1)
    assert [c.picked for c in first.choices] == [1, 1, 0]
    await services.close()
