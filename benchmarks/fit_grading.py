"""Fit the calibrated grader's combination on SemEval-2013 Task 7's TRAINING split, and only that.

Run: ``.venv/bin/python -m benchmarks.fit_grading [--datasets DIR]`` to rewrite
``core/llm/grading_model.json``. Every training answer is a learner answer to a step whose labelled
examples are EXAMPLES_PER_LABEL other training answers to the same question of each label (drawn
with a fixed seed), the way an author writes a few of each. The IDF table counts documents (training
answers and references) per key. The test splits and Mohler are never read here.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from benchmarks.bench_grading import DEFAULT_DATASETS, read_csv
from core.llm.grading_model import (
    FEATURES,
    Model,
    StepMaterial,
    features,
    prepare,
)
from core.llm.grading_text import analyse

EXAMPLES_PER_LABEL = 3
WITHOUT_EXAMPLES = 6  # the first six features need no labelled example
MIN_DOCUMENT_FREQUENCY = 2
L2 = 1.0
SEED = 2013
OUT = Path(__file__).resolve().parents[1] / "core" / "llm" / "grading_model.json"
ATTRIBUTION = (
    "Fitted by benchmarks/fit_grading.py on the training split of SemEval-2013 Task 7 (Beetle and "
    "SciEntsBank; Dzikovska et al. 2013, https://aclanthology.org/S13-2045/), licensed CC BY-SA "
    "3.0. No test split was used."
)


def sample_examples(
    rng: random.Random, pool: list[dict[str, str]], exclude: str
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Up to EXAMPLES_PER_LABEL passing and failing answers from ``pool``, not ``exclude``."""
    others = [r for r in pool if r["student_answer_id"] != exclude]
    passes = [r["student_answer"] for r in others if r["label_2way"] == "correct"]
    fails = [r["student_answer"] for r in others if r["label_2way"] != "correct"]
    return (
        tuple(rng.sample(passes, min(EXAMPLES_PER_LABEL, len(passes)))),
        tuple(rng.sample(fails, min(EXAMPLES_PER_LABEL, len(fails)))),
    )


def document_frequencies(rows: list[dict[str, str]]) -> tuple[dict[str, float], float]:
    documents = [r["student_answer"] for r in rows]
    documents += list({r["reference_answer"] for r in rows})
    counts: Counter[str] = Counter()
    for text in documents:
        analysed = analyse(text)
        counts.update(analysed.content | analysed.negated_content)
    n = len(documents)
    idf = {
        k: round(math.log((n + 1) / (c + 1)) + 1, 3)
        for k, c in counts.items()
        if c >= MIN_DOCUMENT_FREQUENCY
    }
    return idf, round(math.log((n + 1) / (MIN_DOCUMENT_FREQUENCY)) + 1, 3)


def fit_logistic(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """L2-regularised logistic regression by Newton's method (the bias is not penalised)."""
    w = np.zeros(x.shape[1])
    penalty = np.full(x.shape[1], L2)
    penalty[0] = 0.0
    for _ in range(50):
        p = 1 / (1 + np.exp(-(x @ w)))
        gradient = x.T @ (p - y) + penalty * w
        hessian = (x * (p * (1 - p))[:, None]).T @ x + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w


def training_matrix(
    rows: list[dict[str, str]], model: Model
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rng = random.Random(SEED)
    by_question: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_question[(row["dataset"], row["question_id"])].append(row)
    xs, ys, groups = [], [], []
    for (dataset, question_id), pool in sorted(by_question.items()):
        for row in pool:
            passes, fails = sample_examples(rng, pool, row["student_answer_id"])
            material = StepMaterial(row["question"], row["reference_answer"], passes, fails)
            xs.append(features(analyse(row["student_answer"]), prepare(material, model), model))
            ys.append(1.0 if row["label_2way"] == "correct" else 0.0)
            groups.append(f"{dataset}/{question_id}")
    return np.array(xs), np.array(ys), groups


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--datasets",
        type=Path,
        default=Path(os.environ.get("CURIOUSCORE_DATASETS", DEFAULT_DATASETS)),
    )
    args = parser.parse_args()
    rows = [
        r
        for r in read_csv(args.datasets / "semeval2013" / "semeval2013_task7_2way_3way.csv")
        if r["split"] == "train"
    ]
    idf, unseen = document_frequencies(rows)
    draft = Model((0.0,) * len(FEATURES), (0.0,) * WITHOUT_EXAMPLES, idf, unseen)
    x, y, _ = training_matrix(rows, draft)
    with_examples = fit_logistic(x, y)
    without_examples = fit_logistic(x[:, :WITHOUT_EXAMPLES], y)
    for name, w, cols in (
        ("with examples", with_examples, len(FEATURES)),
        ("without examples", without_examples, WITHOUT_EXAMPLES),
    ):
        p = 1 / (1 + np.exp(-(x[:, :cols] @ w)))
        accuracy = float(np.mean((p >= 0.5) == (y == 1)))
        print(f"{name}: training accuracy {accuracy:.3f}")
        for feature, c in zip(FEATURES, w, strict=False):
            print(f"  {feature:50s} {c:+.3f}")
    payload = {
        "attribution": ATTRIBUTION,
        "features": list(FEATURES),
        "examples_per_label": EXAMPLES_PER_LABEL,
        "with_examples": [round(float(c), 4) for c in with_examples],
        "without_examples": [round(float(c), 4) for c in without_examples],
        "unseen_idf": unseen,
        "idf": dict(sorted(idf.items())),
    }
    OUT.write_text(json.dumps(payload, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUT} ({len(idf)} IDF keys)")


if __name__ == "__main__":
    main()
