"""The chat use cases both bots share."""

from __future__ import annotations

from core.bootstrap import build_services
from core.config import Settings
from core.store import InMemoryStore
from tests.core.service.conftest import quiz


async def _services():
    services = await build_services(Settings(database_url="memory://"), store=InMemoryStore())
    await services.catalog.publish(quiz(), at="2026-01-01T00:00:00+00:00")
    return services


async def test_a_chat_user_is_provisioned_once():
    services = await _services()
    first = await services.chat.actor("discord", "123", "Ada")
    again = await services.chat.actor("discord", "123", "Ada L.")
    assert first == again
    assert (await services.learners.profile(first)).display_name == "Ada"


async def test_play_resumes_the_open_session_in_its_thread():
    services = await _services()
    actor = await services.chat.actor("slack", "U1", "Ada")
    started = await services.chat.play(actor, "quiz")
    assert not started.resumed and started.view.status == "active" and started.thread is None
    bound = await services.chat.bind_thread(
        actor,
        platform="slack",
        scope_id="T1",
        thread_id="111.222",
        channel_id="C1",
        session_id=started.view.session_id,
    )
    again = await services.chat.play(actor, "quiz")
    assert again.resumed and again.view.session_id == started.view.session_id
    assert again.thread == bound
    assert await services.chat.session_in_thread("slack", "T1", "111.222") == bound


async def test_binding_twice_returns_the_first_binding():
    services = await _services()
    actor = await services.chat.actor("discord", "9", "Bo")
    started = await services.chat.play(actor, "quiz")
    first = await services.chat.bind_thread(
        actor,
        platform="discord",
        scope_id="g",
        thread_id="a",
        channel_id="c",
        session_id=started.view.session_id,
    )
    second = await services.chat.bind_thread(
        actor,
        platform="discord",
        scope_id="g",
        thread_id="b",
        channel_id="c",
        session_id=started.view.session_id,
    )
    assert second == first


async def test_a_retried_delivery_is_not_first():
    services = await _services()
    assert await services.chat.first_delivery("slack", "Ev9")
    assert not await services.chat.first_delivery("slack", "Ev9")
