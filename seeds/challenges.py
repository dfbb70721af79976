"""Seed challenges: every file is validated first; nothing is stored unless all of them load."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.authoring.lint import todo_fields
from core.bootstrap import Services
from core.content import ChallengeFile, ChallengeLoadError, discover, load_challenge_file
from core.service.catalog import PublishResult

DEMO_LEARNER = ("demo", "Demo Learner")


@dataclass(frozen=True, slots=True)
class SeedReport:
    results: tuple[PublishResult, ...]
    errors: tuple[ChallengeLoadError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


def default_challenge_dir(configured: str = "challenges") -> Path:
    """The configured folder when it exists, else the ``challenges/`` folder shipped beside us."""
    path = Path(configured)
    if path.is_dir():
        return path
    return Path(__file__).resolve().parent.parent / "challenges"


async def seed_challenges(
    services: Services,
    paths: list[Path],
    *,
    on_progress: Callable[[str], None] | None = None,
) -> SeedReport:
    """Publish every challenge under ``paths``; a changed file becomes a new version."""
    files = [p for p in discover(paths) if p.name != "schema.json"]
    loaded: list[ChallengeFile] = []
    errors: list[ChallengeLoadError] = []
    for path in files:
        try:
            challenge = load_challenge_file(path)
        except ChallengeLoadError as error:
            errors.append(error)
            continue
        # a scaffold still full of TODO text must never reach learners
        unfinished = todo_fields(challenge)
        if unfinished:
            problems = [f"{field}: still contains TODO text; replace it" for field in unfinished]
            errors.append(ChallengeLoadError(str(path), problems))
            continue
        loaded.append(challenge)
    if errors:
        return SeedReport((), tuple(errors))
    results = []
    for challenge in loaded:
        results.append(await services.catalog.publish(challenge, at=services.clock.now()))
        if on_progress is not None:
            on_progress(challenge.id)
    await services.learners.ensure_learner(*DEMO_LEARNER)
    return SeedReport(tuple(results), ())


async def ensure_seeded(services: Services) -> SeedReport | None:
    """Seed the shipped challenges on first run (an empty catalogue); otherwise do nothing."""
    if await services.catalog.summaries():
        return None
    return await seed_challenges(
        services, [default_challenge_dir(services.settings.challenges_dir)]
    )
