"""Before it listens, a server renders the catalogue's code blocks once (``api.app.warm_rendering``),
so the first requests neither build Pygments' lexers nor render those texts on the event loop."""

from __future__ import annotations

from api.app import warm_rendering
from api.rendering import markdown_html
from core.bootstrap import build_services
from core.config import Settings
from seeds import ensure_seeded


async def test_the_catalogue_code_blocks_are_rendered_and_cached_before_serving() -> None:
    services = await build_services(Settings(env="test", database_url="memory://"))
    try:
        await ensure_seeded(services)
        markdown_html.cache_clear()
        rendered = await warm_rendering(services)
        assert rendered > 0
        assert markdown_html.cache_info().currsize == rendered
        spec = await services.catalog.latest_spec("python-functions")
        fenced = next(step.body for step in spec.steps if step.body and "```python" in step.body)
        hits = markdown_html.cache_info().hits
        assert 'class="language-python"' in markdown_html(fenced)
        assert markdown_html.cache_info().hits == hits + 1
    finally:
        await services.close()


async def test_no_warm_up_renders_nothing() -> None:
    services = await build_services(
        Settings(env="test", database_url="memory://", warm_up_seconds=0)
    )
    try:
        await ensure_seeded(services)
        assert await warm_rendering(services) == 0
    finally:
        await services.close()
