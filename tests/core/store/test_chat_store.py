"""Chat threads and delivery ids, on every store."""

from __future__ import annotations

from core.store.chat import FINISHED, ChatThread


def _thread(thread_id: str = "t1", session_id: str = "s1") -> ChatThread:
    return ChatThread(
        "discord", "guild-1", thread_id, "channel-1", session_id, "ada", "2026-01-01T00:00:00Z"
    )


async def test_a_thread_holds_one_session_and_is_found_both_ways(store):
    assert await store.bind_thread(_thread())
    assert await store.session_in_thread("discord", "guild-1", "t1") == _thread()
    assert await store.thread_for_session("s1") == _thread()
    assert await store.session_in_thread("slack", "guild-1", "t1") is None


async def test_a_thread_or_session_cannot_be_bound_twice(store):
    assert await store.bind_thread(_thread())
    assert not await store.bind_thread(_thread(session_id="s2"))
    assert not await store.bind_thread(_thread(thread_id="t2"))
    assert await store.thread_for_session("s2") is None


async def test_a_delivery_id_is_first_only_once_per_platform(store):
    assert await store.first_delivery("slack", "Ev1", "2026-01-01T00:00:00Z")
    assert not await store.first_delivery("slack", "Ev1", "2026-01-01T00:00:01Z")
    assert await store.first_delivery("discord", "Ev1", "2026-01-01T00:00:02Z")


async def test_what_a_thread_shows_is_kept_and_never_moves_back(store):
    assert await store.bind_thread(_thread())
    assert [t.thread_id for t in await store.unfinished_threads("discord")] == ["t1"]
    await store.record_shown("s1", 4, "pick")
    await store.record_shown("s1", 2, "pick")  # a late, slower delivery
    shown = await store.thread_for_session("s1")
    assert (shown.delivered_seq, shown.shown) == (4, "pick")
    await store.record_shown("s1", 7, FINISHED)
    assert await store.unfinished_threads("discord") == []
    assert await store.unfinished_threads("slack") == []


async def test_a_session_moves_to_a_new_thread_with_what_was_delivered(store):
    assert await store.bind_thread(_thread())
    await store.record_shown("s1", 3, "pick")
    await store.rebind_thread(_thread(thread_id="t2"))
    assert await store.session_in_thread("discord", "guild-1", "t1") is None
    moved = await store.session_in_thread("discord", "guild-1", "t2")
    assert moved is not None and (moved.delivered_seq, moved.shown) == (3, "pick")
    assert await store.thread_for_session("s1") == moved


async def test_an_archive_timer_is_kept_until_done(store):
    assert await store.bind_thread(_thread())
    assert await store.due_archives("discord", "2026-01-01T00:10:00.000+00:00") == []
    await store.schedule_archive("s1", "2026-01-01T00:05:00.000+00:00")
    assert await store.due_archives("discord", "2026-01-01T00:04:59.999+00:00") == []
    due = await store.due_archives("discord", "2026-01-01T00:05:00.000+00:00")
    assert [t.thread_id for t in due] == ["t1"]
    assert due[0].archive_at == "2026-01-01T00:05:00.000+00:00"
    assert await store.due_archives("slack", "2026-01-01T00:06:00.000+00:00") == []
    await store.archive_done("s1")
    assert await store.due_archives("discord", "2026-01-02T00:00:00.000+00:00") == []
