"""The learner's side: GameService built by the composition root with each provider configured
against the local fake server. The session always progresses; outcomes carry model, tokens, cost."""

from __future__ import annotations

import pytest

from core.bootstrap import ConfigurationError, build_services
from core.config import Settings
from core.engine import UiMode
from core.service.clock import FixedClock
from core.store import InMemoryStore
from tests.core.llm.conftest import API_KEY, PROVIDERS, base_url
from tests.core.llm.fake_server import EXACT_MODELS, Reply
from tests.core.service.conftest import ADA, quiz

GOOD = "You can reuse a named block of logic."


def settings_for(server, provider: str, **extra) -> Settings:
    values = {
        "database_url": "memory://",
        "llm_provider": provider,
        "llm_timeout_seconds": 1.5,
        "llm_retry_base_seconds": 0.01,
        **extra,
    }
    if provider != "offline":
        values[f"{provider}_api_key"] = API_KEY
        values[f"{provider}_base_url"] = base_url(server, provider)
    return Settings(**values)


async def _services(settings: Settings, challenge=None):
    services = await build_services(settings, store=InMemoryStore(), clock=FixedClock())
    await services.catalog.publish(challenge or quiz(), at="2026-01-01T00:00:00+00:00")
    await services.learners.ensure_learner("ada", "Ada")
    return services


async def _to_chat(services):
    game = services.game
    view = await game.create_session(ADA, "quiz")
    view = await game.start_session(ADA, view.session_id)
    view = await game.continue_gate(ADA, view.session_id, "welcome")
    view = await game.submit_answer(ADA, view.session_id, "pick", 0)
    return await game.submit_answer(ADA, view.session_id, "truth", True)


@pytest.mark.parametrize("name", PROVIDERS)
async def test_a_session_narrated_and_graded_by_each_provider(fake_llm, name):
    services = await _services(settings_for(fake_llm, name))
    try:
        fake_llm.script(name, Reply(text="Welcome aboard, Ada. Let's begin."))
        view = await _to_chat(services)
        assert view.transcript[0].source == "llm" and view.transcript[0].text.startswith("Welcome")
        narrated = fake_llm.calls(name)[0]
        assert "<progress>\nStep 1 of 4; score so far 0 of 40" in narrated.user
        assert "Hello there." in narrated.user  # the authored narration, to rephrase
        view = await services.game.submit_answer(ADA, view.session_id, "explain", GOOD)
        assert view.ui_mode is UiMode.COMPLETED and view.result is not None and view.result.passed

        events = await services.game.session_events(ADA, view.session_id)
        [graded] = [
            e for e in events if e.type == "AnswerGraded" and e.data["step_id"] == "explain"
        ]
        trace = graded.data["trace"]
        assert graded.data["grader"] == name
        assert trace["provider"] == name and trace["model"] == EXACT_MODELS[name]
        assert trace["tokens_in"] > 0 and trace["cost_usd"] > 0 and trace["prompt_hash"]
        assert trace["provisional"] is False

        usage = await services.usage.for_session(view.session_id)
        assert usage.calls == 2 and usage.cost_usd == pytest.approx(
            trace["cost_usd"] + events[3].data["trace"]["cost_usd"]
        )
        assert (await services.usage.for_learner("ada")).calls == 2
        sample = services.registry.get_sample_value(
            "curiouscore_llm_calls_total",
            {"provider": name, "task": "LEM_EVALUATE", "outcome": "ok"},
        )
        assert sample == 1
        # Replay is a fold: it never calls an LLM.
        before = len(fake_llm.requests)
        await services.game.replay(view.session_id)
        assert len(fake_llm.requests) == before
    finally:
        await services.close()


@pytest.mark.parametrize("name", PROVIDERS)
async def test_the_session_progresses_when_the_provider_keeps_failing(fake_llm, name):
    services = await _services(settings_for(fake_llm, name, llm_max_retries=1))
    try:
        fake_llm.script(name, *[Reply(status=503)] * 10)
        view = await _to_chat(services)
        assert view.transcript[0].source == "fallback" and view.transcript[0].text == "Hello there."
        view = await services.game.submit_answer(ADA, view.session_id, "explain", GOOD)
        feedback = [e for e in view.transcript if e.kind == "feedback"][-1]
        assert feedback.provisional and feedback.passed
        assert "503" not in feedback.text and "error" not in feedback.text.lower()
        assert view.ui_mode is UiMode.COMPLETED
        usage = await services.usage.for_session(view.session_id)
        assert usage.failures == 2 and usage.cost_usd == 0
    finally:
        await services.close()


async def test_hints_from_the_model_see_previous_attempts(fake_llm):
    services = await _services(settings_for(fake_llm, "anthropic"))
    try:
        view = await _to_chat(services)
        zero = {
            "items": [
                {"id": "reuse", "points": 0, "feedback": "Not yet."},
                {"id": "names", "points": 0, "feedback": "Not yet."},
            ],
            "feedback": "Not there yet.",
            "rationale": "Off topic.",
            "instruction_attempt": False,
        }
        fake_llm.script("anthropic", Reply(verdict=zero))
        view = await services.game.submit_answer(
            ADA, view.session_id, "explain", "Computers like them."
        )
        assert view.ui_mode is UiMode.CHAT
        fake_llm.script("anthropic", Reply(text="What would you do if you needed it twice?"))
        view = await services.game.request_hint(ADA, view.session_id, "explain")
        assert view.transcript[-1].kind == "hint" and view.transcript[-1].source == "llm"
        sent = fake_llm.calls("anthropic")[-1]
        assert "<attempt>\nComputers like them.\n</attempt>" in sent.user
    finally:
        await services.close()


async def test_a_challenge_file_can_choose_its_provider_and_model(fake_llm):
    settings = settings_for(
        fake_llm,
        "offline",
        gemini_api_key=API_KEY,
        gemini_base_url=base_url(fake_llm, "gemini"),
    )
    challenge = quiz(llm={"provider": "gemini", "model": "gemini-2.5-pro"})
    services = await _services(settings, challenge)
    try:
        view = await _to_chat(services)
        view = await services.game.submit_answer(ADA, view.session_id, "explain", GOOD)
        assert view.ui_mode is UiMode.COMPLETED
        sent = fake_llm.calls("gemini")
        assert sent and all(r.model == "gemini-2.5-pro" for r in sent)
    finally:
        await services.close()


async def test_the_daily_budget_hands_a_learner_to_the_offline_provider(fake_llm):
    services = await _services(settings_for(fake_llm, "openai", llm_daily_budget_usd=0.0001))
    try:
        view = await _to_chat(services)  # narration spends more than the budget
        assert len(fake_llm.calls("openai")) == 1
        view = await services.game.submit_answer(ADA, view.session_id, "explain", GOOD)
        assert len(fake_llm.calls("openai")) == 1  # graded offline
        feedback = [e for e in view.transcript if e.kind == "feedback"][-1]
        assert feedback.passed and not feedback.provisional
        assert await services.usage.budget_left(ADA, (await _day(services))) == 0
    finally:
        await services.close()


async def _day(services) -> str:
    [row] = await services.usage.per_day(learner_id="ada")
    return row.day


@pytest.mark.parametrize(
    ("name", "variable"),
    [
        ("anthropic", "ANTHROPIC_API_KEY"),
        ("openai", "OPENAI_API_KEY"),
        ("gemini", "GEMINI_API_KEY"),
    ],
)
async def test_a_provider_without_its_key_is_a_clear_configuration_error(
    monkeypatch, name, variable
):
    monkeypatch.delenv(variable, raising=False)
    with pytest.raises(ConfigurationError, match=variable):
        await build_services(
            Settings(database_url="memory://", llm_provider=name, _env_file=None),
            store=InMemoryStore(),
        )
