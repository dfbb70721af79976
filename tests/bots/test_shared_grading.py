"""With REDIS_URL, two bot processes catching up the same pending answer call the LLM once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from redis.asyncio import Redis

from core.service.chat import ChatAction
from core.service.single_flight import SharedLock
from tests.bots.discord.conftest import sqlite_services
from tests.bots.slow_llm import slow_grader
from tests.redis_support import delete_prefix, require_redis, unique_prefix

pytestmark = pytest.mark.redis


async def test_two_processes_grade_a_pending_answer_once(tmp_path: Path) -> None:
    url = await require_redis()
    prefix = unique_prefix()
    path = str(tmp_path / "shared.db")
    one = await sqlite_services(path)
    two = await sqlite_services(path, publish=False)
    locks = [SharedLock(Redis.from_url(url), prefix=prefix, ttl=30) for _ in range(2)]
    one.chat.share_gradings(locks[0])
    two.chat.share_gradings(locks[1])
    graders = [slow_grader(one), slow_grader(two)]
    for grader in graders:
        grader.seconds = 0.3  # a real LLM takes a while: both processes ask meanwhile
    try:
        actor = await one.chat.actor("discord", "42", "ada")
        session = (await one.chat.play(actor, "quiz")).view.session_id
        game = one.game
        await game.continue_gate(actor, session, "welcome")
        await game.submit_answer(actor, session, "pick", 0)
        await game.submit_answer(actor, session, "several", (0, 2))
        await game.submit_answer(actor, session, "truth", True)
        turn = await one.chat.act(actor, session, ChatAction("reply", text="reused and named"))
        assert turn.grading
        first, second = await asyncio.gather(one.chat.catch_up(session), two.chat.catch_up(session))
        assert sum(g.calls for g in graders) == 1  # one LLM call for one pending answer
        assert not first.grading and not second.grading  # both read the recorded grade
        events = await one.store.read_stream(session)
        graded = [e for e in events if e.type == "AnswerGraded" and e.data["step_id"] == "explain"]
        assert len(graded) == 1
    finally:
        for lock in locks:
            await lock.aclose()
        await one.close()
        await two.close()
        await delete_prefix(url, prefix)
