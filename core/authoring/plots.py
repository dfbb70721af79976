"""The score distribution of the labelled examples per chat step, drawn with matplotlib's Agg.

No pyplot and no global backend: the figure is rendered to PNG bytes, which Jupyter shows through
``_repr_png_`` and the HTML report embeds.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.authoring.grading import ExampleGrades

if TYPE_CHECKING:
    from matplotlib.figure import Figure


@dataclass(frozen=True, slots=True, repr=False)
class ScorePlot:
    figure: Figure

    def __repr__(self) -> str:
        return "<score plot of the labelled examples>"

    def png(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        return buffer.getvalue()

    def _repr_png_(self) -> bytes:
        return self.png()


def plot_example_scores(grades: ExampleGrades) -> ScorePlot:
    """Plot every example's score (as % of the step's points) per chat step, marked by its label,
    with each step's pass mark; examples on the wrong side of the line are circled."""
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    steps = list(dict.fromkeys(grade.step_id for grade in grades.grades))
    figure = Figure(figsize=(max(5.5, 1.6 * len(steps) + 3.5), 3.6), dpi=100)
    axes = figure.add_subplot()
    if not steps:
        axes.text(0.5, 0.5, "no labelled examples to plot", ha="center", va="center")
        axes.set_axis_off()
        return ScorePlot(figure)
    for x, step_id in enumerate(steps):
        mine = [g for g in grades.grades if g.step_id == step_id]
        threshold = mine[0].result.pass_threshold
        axes.hlines(threshold, x - 0.35, x + 0.35, colors="grey", linestyles="dashed")
        for offset, grade in enumerate(mine):
            result = grade.result
            y = 100 * result.score / result.max_score if result.max_score else 0.0
            jitter = (offset - (len(mine) - 1) / 2) * (0.5 / max(1, len(mine)))
            colour = "tab:green" if grade.expected == "pass" else "tab:red"
            marker = "o" if grade.expected == "pass" else "X"
            axes.scatter([x + jitter], [y], c=colour, marker=marker, s=45, zorder=3)
            if not grade.agrees:
                axes.scatter(
                    [x + jitter], [y], facecolors="none", edgecolors="black", s=220, zorder=4
                )
    axes.set_xticks(range(len(steps)), steps, rotation=15, ha="right")
    axes.set_xlim(-0.6, max(0.6, len(steps) - 0.4))
    axes.set_ylim(-5, 105)
    axes.set_ylabel("score, % of the step's points")
    axes.set_title(f"Labelled examples per step (evaluator: {grades.evaluator})", fontsize=10)
    legend = [
        Line2D([], [], color="tab:green", marker="o", linestyle="", label="labelled pass"),
        Line2D([], [], color="tab:red", marker="X", linestyle="", label="labelled fail"),
        Line2D([], [], color="grey", linestyle="dashed", label="pass mark"),
        Line2D([], [], marker="o", markerfacecolor="none", markeredgecolor="black",
               markersize=11, linestyle="", label="disagrees"),
    ]  # fmt: skip
    axes.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    return ScorePlot(figure)
