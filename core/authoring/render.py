"""Small HTML helpers for the objects notebooks display (Jupyter calls their ``_repr_html_``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

OK = "#1a7f37"
BAD = "#cf222e"
WARN = "#9a6700"


def html_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    colours: Iterable[str | None] | None = None,
    raw_columns: frozenset[int] = frozenset(),
) -> str:
    """An HTML table; cells are escaped except in ``raw_columns`` (already HTML)."""
    head = "".join(f"<th style='text-align:left'>{escape(h)}</th>" for h in headers)
    body = []
    colour_list = list(colours) if colours is not None else []
    for index, row in enumerate(rows):
        colour = colour_list[index] if index < len(colour_list) else None
        style = f" style='color:{colour}'" if colour else ""
        cells = "".join(
            f"<td style='text-align:left'>{cell if i in raw_columns else escape(cell)}</td>"
            for i, cell in enumerate(row)
        )
        body.append(f"<tr{style}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def badge(passed: bool, *, yes: str = "passed", no: str = "FAILED") -> str:
    colour = OK if passed else BAD
    return f"<strong style='color:{colour}'>{escape(yes if passed else no)}</strong>"


def shorten(text: str, width: int = 90) -> str:
    """One line, at most ``width`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def points(value: float) -> str:
    """Points without a useless ``.0``."""
    return f"{value:g}"
