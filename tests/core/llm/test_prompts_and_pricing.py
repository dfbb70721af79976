"""Prompt rendering, verdict validation and the price table."""

from __future__ import annotations

import pytest

from core.config import Settings
from core.engine.events import LlmTrace
from core.llm.errors import GraderError, retry_after_seconds
from core.llm.factory import ProviderFactory, price_table
from core.llm.offline import OfflineProvider
from core.llm.pricing import DEFAULT_MODELS, PriceTable
from core.llm.prompts import evaluation_prompt, hint_prompt, narration_prompt
from core.llm.verdicts import load_json_object, parse_verdict
from tests.core.llm.conftest import evaluation, hint_request, narration

TRACE = LlmTrace("openai", "gpt-4.1-mini-2025-04-14")


def test_prompt_hash_is_stable_and_follows_the_inputs():
    assert evaluation_prompt(evaluation()).hash == evaluation_prompt(evaluation()).hash
    assert evaluation_prompt(evaluation()).hash != evaluation_prompt(evaluation("other")).hash
    assert narration_prompt(narration()).hash != hint_prompt(hint_request()).hash


def test_evaluation_prompt_holds_question_rubric_reference_and_answer_in_order():
    user = evaluation_prompt(evaluation()).user
    order = ["<question>", "<rubric>", "<reference_answer>", "<learner_answer>"]
    positions = [user.index(tag) for tag in order]
    assert positions == sorted(positions)
    assert user.rstrip().endswith("one verdict item per rubric id: reuse, names.")


def test_verdict_parsing_accepts_a_fenced_object_and_rejects_wrong_types():
    data = load_json_object('```json\n{"items": [], "feedback": "x"}\n```')
    assert data == {"items": [], "feedback": "x"}
    with pytest.raises(GraderError):
        load_json_object("[1, 2]")
    good = {
        "items": [
            {"id": "reuse", "points": 7.5, "feedback": "ok"},
            {"id": "names", "points": 0, "feedback": "missing"},
        ],
        "feedback": "Half there.",
        "rationale": "r",
        "instruction_attempt": False,
    }
    verdict = parse_verdict(good, evaluation(), grader="openai", trace=TRACE)
    assert [(i.id, i.points) for i in verdict.items] == [("reuse", 7.5), ("names", 0.0)]
    assert verdict.flags == () and verdict.trace == TRACE
    for broken in (
        {**good, "items": [{**good["items"][0], "points": True}, good["items"][1]]},
        {**good, "feedback": 3},
        {**good, "instruction_attempt": "no"},
        {**good, "items": [good["items"][0], good["items"][0], good["items"][1]]},
    ):
        with pytest.raises(GraderError) as raised:
            parse_verdict(broken, evaluation(), grader="openai", trace=TRACE)
        assert raised.value.trace == TRACE


def test_prices_match_the_longest_prefix_and_can_be_overridden(monkeypatch):
    table = PriceTable()
    assert table.cost("gpt-4.1-mini-2025-04-14", 1_000_000, 1_000_000) == pytest.approx(2.0)
    assert table.cost("gpt-4.1-2025-04-14", 1_000_000, 0) == pytest.approx(2.0)
    assert table.cost("unknown-model", 10, 10) == 0.0
    for model in DEFAULT_MODELS.values():
        assert table.price(model) is not None, model
    monkeypatch.setenv("LLM_PRICES", '{"my-model": {"input": 1.0, "output": 4.0}}')
    custom = price_table(Settings(_env_file=None))
    assert custom.cost("my-model-v2", 500_000, 250_000) == pytest.approx(1.5)
    monkeypatch.setenv("LLM_PRICES", '{"m": {"input": -1, "output": 1}}')
    with pytest.raises(ValueError, match="llm_prices"):
        Settings(_env_file=None)


def test_retry_after_headers():
    assert retry_after_seconds({"Retry-After": "3"}) == 3
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert retry_after_seconds({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}) is None
    assert retry_after_seconds(None) is None


def test_factory_models_and_offline_default():
    factory = ProviderFactory(Settings(_env_file=None, llm_model="ignored-for-offline"))
    assert isinstance(factory.default(), OfflineProvider)
    assert factory.model_for("openai", None) == DEFAULT_MODELS["openai"]
    assert factory.model_for("openai", "gpt-4o") == "gpt-4o"
    named = ProviderFactory(Settings(_env_file=None, llm_provider="openai", llm_model="gpt-4o"))
    assert named.model_for("openai", None) == "gpt-4o"
    assert named.model_for("gemini", None) == DEFAULT_MODELS["gemini"]
