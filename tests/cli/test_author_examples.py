"""``curiouscore author examples export``: reviewed answers become ``examples:`` entries that paste
into the challenge file and load (issue 14)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cli.main import app
from core.bootstrap import build_services
from core.config import Settings
from core.content import ChallengeFile, load_challenge_file
from core.service.actor import Actor
from tests.cli.test_cli import SHIPPED

REVIEWER = Actor("rita", "reviewer")
NEW_ANSWERS = {
    "why-functions": "Functions let you reuse logic instead of copying it, and they keep a "
    "program organised and readable.",
    "print-vs-return": "return hands the value back to the caller so it can be stored in a "
    "variable, while print only shows it on the screen.",
}


def _input(answers: dict[str, str]) -> str:
    """A player who knows every answer, writing ``answers`` on the chat steps."""
    lines: list[str] = []
    for step in load_challenge_file(SHIPPED / "python-functions.yaml").steps:
        if step.type == "gate":
            lines.append("")
        elif step.type in ("mcq", "multi"):
            lines.append(",".join(str(i) for i, c in enumerate(step.choices, 1) if c.correct))
        elif step.type == "true_false":
            lines.append("t" if step.answer else "f")
        elif step.type == "code":
            lines.extend([*step.solution.splitlines(), ""])
        else:
            lines.append(answers[step.id])
    return "\n".join(lines) + "\n"


@pytest.fixture
def reviewed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Two sessions with new chat answers, every grade queued; the reviewer fails one answer of
    'why-functions' and passes every other."""
    path = tmp_path / "cli.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{path}")
    monkeypatch.setenv("REVIEW_SAMPLE_RATE", "1.0")
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    second = {
        **NEW_ANSWERS,
        "why-functions": "They give reuse: one function is written once and then called again and again instead of copying the code.",
    }
    for learner, answers in (("ada", NEW_ANSWERS), ("bob", second)):
        result = CliRunner().invoke(
            app, ["play", "python-functions", "--learner", learner], input=_input(answers)
        )
        assert result.exit_code == 0, result.output

    review_queue()
    return path


def review_queue() -> int:
    """Review every queued grade (an answer starting "They give reuse" fails; the grader passes it); return how many."""

    async def review() -> int:
        services = await build_services(Settings())
        try:
            assert services.review is not None
            queued = await services.review.queue(REVIEWER)
            for item in queued:
                failed = item.answer.startswith("They give reuse")
                await services.review.review(REVIEWER, item.review_id, passed=not failed)
            return len(queued)
        finally:
            await services.close()

    return asyncio.run(review())


def export(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["author", "examples", "export", *args])
    return result.exit_code, result.stdout, result.stderr


def test_export_writes_every_chat_steps_reviewed_answers_as_examples(reviewed):
    code, out, _ = export("python-functions")
    assert code == 0, out
    assert out.startswith("# Reviewed answers of python-functions")
    steps = {s["id"]: s["examples"] for s in yaml.safe_load(out)["steps"]}
    assert set(steps) == {"why-functions", "print-vs-return"}
    assert steps["why-functions"] == [
        {
            "answer": "They give reuse: one function is written once and then called again and again instead of copying the code.",
            "expect": "fail",
        },
        {"answer": NEW_ANSWERS["why-functions"], "expect": "pass"},
    ]
    # The same answer twice is one example.
    assert steps["print-vs-return"] == [
        {"answer": NEW_ANSWERS["print-vs-return"], "expect": "pass"}
    ]


def test_one_steps_list_pastes_into_the_file_and_loads(reviewed):
    code, out, _ = export("python-functions", "--step", "why-functions", "--limit", "1")
    assert code == 0, out
    examples = yaml.safe_load(out)["examples"]
    assert examples == [
        {
            "answer": "They give reuse: one function is written once and then called again and again instead of copying the code.",
            "expect": "fail",
        }
    ]
    data = yaml.safe_load((SHIPPED / "python-functions.yaml").read_text(encoding="utf-8"))
    step = next(s for s in data["steps"] if s["id"] == "why-functions")
    step["examples"] = [*step["examples"], *examples]
    ChallengeFile.model_validate(data)  # the pasted entries are valid challenge content


def test_answers_already_in_the_file_are_left_out(reviewed):
    # Play the file's own first pass example: reviewed, but already an example.
    known = load_challenge_file(SHIPPED / "python-functions.yaml")
    first = {
        s.id: next(e.answer for e in s.examples if e.expect == "pass")
        for s in known.steps
        if s.type == "chat"
    }
    result = CliRunner().invoke(
        app, ["play", "python-functions", "--learner", "cy"], input=_input(first)
    )
    assert result.exit_code == 0, result.output
    assert review_queue() == 2
    code, out, _ = export("python-functions")
    assert code == 0
    assert not any(answer in out for answer in first.values())


def test_bad_arguments_are_named(reviewed):
    code, _, err = export("python-functions", "--step", "what-is")
    assert code == 2 and "no chat step 'what-is'" in err and "why-functions" in err
    code, _, err = export("no-such-challenge")
    assert code == 2 and "no-such-challenge" in err
    code, _, err = export("python-functions", "--limit", "0")
    assert code == 2


def test_nothing_reviewed_yet_is_an_empty_list_and_a_note(tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    monkeypatch.chdir(tmp_path)
    assert CliRunner().invoke(app, ["seed"]).exit_code == 0
    code, out, err = export("python-functions", "--step", "why-functions")
    assert code == 0
    assert yaml.safe_load(out) == {"examples": []}
    assert "No new reviewed answers" in err
