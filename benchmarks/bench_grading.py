"""How well the offline evaluator agrees with human graders on public short-answer benchmarks.

Run: ``.venv/bin/python -m benchmarks.bench_grading [--datasets DIR]`` (default
``../shared/datasets``, or ``CURIOUSCORE_DATASETS``). Prints tables; the figures and how to read them
are in docs/grading.md.

The datasets have a question, one reference answer and a learner answer, but no rubric concepts, so
each answer is graded as a chat step with a single concept-less rubric item: the reference-answer
half of the offline evaluator (credit in proportion to coverage of the reference's content words).
Mohler et al. 2011 (0–5 scores): Pearson r of our 0–5 score against the human average, and
pass/fail at the default chat pass mark (60%, i.e. a human score ≥ 3). SemEval-2013 Task 7, 2-way:
pass/fail against correct/incorrect on each test split. Agreement is accuracy and Cohen's κ, plus
macro- and weighted F1 for SemEval (weighted F1 is that task's preferred metric). Everything is
computed here with the standard library.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import statistics
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.engine.events import LlmTrace
from core.llm.base import EvaluationRequest, RubricCriterion
from core.llm.offline import evaluate_offline

PASS_THRESHOLD = 60
TRACE = LlmTrace("offline", "bench")
DEFAULT_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SEMEVAL_TESTS = ("test_unseen_answers", "test_unseen_questions", "test_unseen_domains")
# Riordan et al. 2017, Table 4 (weighted F1, unseen answers): n-gram baseline / state of the art.
PUBLISHED_SEMEVAL_WF1 = {"beetle": (0.742, 0.845), "scientsbank": (0.661, 0.773)}


def grade(question: str, reference: str, answer: str, points: int) -> float:
    """The offline evaluator's score for one answer, on a ``points`` scale."""
    request = EvaluationRequest(
        prompt=question,
        rubric=(RubricCriterion("answer", "Covers the reference answer's key ideas.", points),),
        reference_answer=reference,
        answer=answer,
        points=points,
        pass_threshold=PASS_THRESHOLD,
    )
    return sum(item.points for item in evaluate_offline(request, trace=TRACE).items)


# -- metrics, by hand ---------------------------------------------------------------------------


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sx = math.sqrt(sum((x - mx) ** 2 for x in xs))
    sy = math.sqrt(sum((y - my) ** 2 for y in ys))
    return sxy / (sx * sy) if sx and sy else 0.0


def rmse(xs: Sequence[float], ys: Sequence[float]) -> float:
    return math.sqrt(statistics.fmean((x - y) ** 2 for x, y in zip(xs, ys, strict=True)))


@dataclass(frozen=True)
class Agreement:
    n: int
    accuracy: float
    kappa: float
    macro_f1: float
    weighted_f1: float
    majority_accuracy: float


def agreement(predicted: Sequence[bool], gold: Sequence[bool]) -> Agreement:
    """Accuracy, Cohen's κ and F1 of binary predictions against gold labels."""
    n = len(gold)
    observed = sum(p == g for p, g in zip(predicted, gold, strict=True)) / n
    p_yes, g_yes = sum(predicted) / n, sum(gold) / n
    expected = p_yes * g_yes + (1 - p_yes) * (1 - g_yes)
    kappa = (observed - expected) / (1 - expected) if expected < 1 else 0.0
    f1s, supports = [], []
    for label in (True, False):
        tp = sum(p == label and g == label for p, g in zip(predicted, gold, strict=True))
        fp = sum(p == label and g != label for p, g in zip(predicted, gold, strict=True))
        fn = sum(p != label and g == label for p, g in zip(predicted, gold, strict=True))
        f1s.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        supports.append(sum(g == label for g in gold))
    return Agreement(
        n=n,
        accuracy=observed,
        kappa=kappa,
        macro_f1=statistics.fmean(f1s),
        weighted_f1=sum(f * s for f, s in zip(f1s, supports, strict=True)) / n,
        majority_accuracy=max(g_yes, 1 - g_yes),
    )


# -- the datasets -------------------------------------------------------------------------------


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@dataclass(frozen=True)
class MohlerResult:
    n: int
    r: float
    rmse: float
    pass_fail: Agreement
    seconds_per_answer: float


def bench_mohler(datasets: Path) -> MohlerResult:
    rows = [
        row
        for row in read_csv(datasets / "mohler" / "mohler2011_unt_v2.csv")
        if row["excluded_in_papers"] == "False"
    ]
    started = time.perf_counter()
    predicted = [
        grade(row["question"], row["reference_answer"], row["student_answer"], 5) for row in rows
    ]
    elapsed = time.perf_counter() - started
    gold = [float(row["score_avg"]) for row in rows]
    return MohlerResult(
        n=len(rows),
        r=pearson(predicted, gold),
        rmse=rmse(predicted, gold),
        pass_fail=agreement(
            [p >= 5 * PASS_THRESHOLD / 100 - 1e-9 for p in predicted],
            [g >= 5 * PASS_THRESHOLD / 100 for g in gold],
        ),
        seconds_per_answer=elapsed / len(rows),
    )


@dataclass(frozen=True)
class SemEvalResult:
    dataset: str
    split: str
    agreement: Agreement
    r: float
    train_majority_accuracy: float


def bench_semeval(datasets: Path) -> list[SemEvalResult]:
    rows = read_csv(datasets / "semeval2013" / "semeval2013_task7_2way_3way.csv")
    results = []
    for dataset in ("beetle", "scientsbank"):
        train = [r for r in rows if r["dataset"] == dataset and r["split"] == "train"]
        majority_correct = sum(r["label_2way"] == "correct" for r in train) * 2 > len(train)
        for split in SEMEVAL_TESTS:
            chosen = [r for r in rows if r["dataset"] == dataset and r["split"] == split]
            if not chosen:
                continue
            scores = [
                grade(r["question"], r["reference_answer"], r["student_answer"], 1) for r in chosen
            ]
            gold = [r["label_2way"] == "correct" for r in chosen]
            predicted = [s >= PASS_THRESHOLD / 100 - 1e-9 for s in scores]
            results.append(
                SemEvalResult(
                    dataset=dataset,
                    split=split,
                    agreement=agreement(predicted, gold),
                    r=pearson(scores, [float(g) for g in gold]),
                    train_majority_accuracy=sum(g == majority_correct for g in gold) / len(gold),
                )
            )
    return results


# -- output -------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    body = [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--datasets",
        type=Path,
        default=Path(os.environ.get("CURIOUSCORE_DATASETS", DEFAULT_DATASETS)),
    )
    args = parser.parse_args(argv)
    mohler = bench_mohler(args.datasets)
    print(f"Mohler et al. 2011 (n={mohler.n}, excluded_in_papers == False)\n")
    print(
        table(
            ["metric", "offline evaluator", "published"],
            [
                ["Pearson r (0–5 score vs human average)", mohler.r, "0.518 best; tf*idf 0.327"],
                ["RMSE (uncalibrated)", mohler.rmse, "0.978 best; avg-grade 1.097"],
                ["pass/fail accuracy (human ≥ 3)", mohler.pass_fail.accuracy, "—"],
                ["pass/fail Cohen's κ", mohler.pass_fail.kappa, "—"],
                ["majority-class accuracy", mohler.pass_fail.majority_accuracy, "—"],
            ],
        )
    )
    print(f"\nSemEval-2013 Task 7, 2-way (pass = score ≥ {PASS_THRESHOLD}%)\n")
    semeval = bench_semeval(args.datasets)
    print(
        table(
            ["dataset", "split", "n", "accuracy", "κ", "macro F1", "weighted F1", "r", "floor"],
            [
                [
                    s.dataset,
                    s.split,
                    s.agreement.n,
                    s.agreement.accuracy,
                    s.agreement.kappa,
                    s.agreement.macro_f1,
                    s.agreement.weighted_f1,
                    s.r,
                    s.train_majority_accuracy,
                ]
                for s in semeval
            ],
        )
    )
    print("\nfloor = accuracy of the training split's majority class.")
    for dataset, (baseline, best) in PUBLISHED_SEMEVAL_WF1.items():
        print(f"published weighted F1, {dataset} unseen answers: baseline {baseline}, best {best}")
    print(f"\noffline evaluator: {mohler.seconds_per_answer * 1e6:.0f} µs per answer (Mohler run)")


if __name__ == "__main__":
    main()
