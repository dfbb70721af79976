"""Settings from the environment: an empty variable means unset, for every setting."""

from __future__ import annotations

import pytest

from core.config import Settings


def _env_names() -> list[str]:
    names = []
    for name, field in Settings.model_fields.items():
        names.append(name.upper())
        choices = getattr(field.validation_alias, "choices", ())
        names.extend(str(choice).upper() for choice in choices)
    return sorted(set(names))


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> pytest.MonkeyPatch:
    for name in _env_names():
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env file
    return monkeypatch


def test_every_empty_variable_means_unset(clean_env: pytest.MonkeyPatch):
    defaults = Settings()
    for name in _env_names():
        clean_env.setenv(name, "")
    assert Settings() == defaults


def test_an_empty_line_in_the_env_file_means_unset_too(clean_env: pytest.MonkeyPatch, tmp_path):
    (tmp_path / ".env").write_text("SLACK_APP_TOKEN=\nPORT=\nENV=\nLLM_PROVIDER=\n")
    settings = Settings()
    assert settings.slack_app_token is None
    assert settings.port == 8000 and settings.env == "development"
    assert settings.llm_provider == "offline"


def test_a_set_variable_still_counts(clean_env: pytest.MonkeyPatch):
    clean_env.setenv("SLACK_APP_TOKEN", "xapp-1")
    clean_env.setenv("PORT", "9000")
    settings = Settings()
    assert settings.slack_app_token is not None
    assert settings.slack_app_token.get_secret_value() == "xapp-1"
    assert settings.port == 9000
