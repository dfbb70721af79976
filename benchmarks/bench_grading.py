"""How well the offline grader agrees with human graders, and how hard it is to game.

Run: ``.venv/bin/python -m benchmarks.bench_grading [--datasets DIR] [--json OUT]`` (datasets default
to ``../shared/datasets`` or ``CURIOUSCORE_DATASETS``). ``--code DIR`` grades with another checkout's
``core`` (e.g. ``--code /work/main`` for the grader before the calibrated one) so the two can be put
side by side with ``--compare BEFORE.json``. Prints tables; docs/grading.md explains them.

Each public answer is graded as a chat step with one concept-less rubric item (the datasets have no
concepts), the question, the reference answer and, where the protocol allows, labelled examples:
* SemEval-2013 Task 7, 2-way, per dataset and test split. Unseen answers: the step's examples are
  EXAMPLES_PER_LABEL training answers of each label to the same question (what an author provides).
  Unseen questions/domains have no training answers: graded on the reference alone, and also with
  EXAMPLES_PER_LABEL other answers to the same question from the split as examples (the answer being
  graded is never one of them).
* Mohler et al. 2011: Pearson r of the 0–5 score (compare with the paper's untrained measures) and
  pass/fail at 60% (a human average ≥ 3) against the majority class; reference alone, and with
  examples drawn from the other answers to the same question.
* Shipped challenges: agreement with their labelled examples in-sample and leave-one-out.
* False flags: guard flags on every honest public answer (Mohler v1 + v2, SemEval, ~19k).
* Attacks generated from every shipped chat step (``core/llm/grading_attacks.py``): how many pass.
* Latency per answer (p50/p99) on Mohler's steps: warm (a prepared step) and cold (its first answer).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import math
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

PASS_THRESHOLD = 60
EXAMPLES_PER_LABEL = 3
SEED = 7
HERE = Path(__file__).resolve().parents[1]
DEFAULT_DATASETS = HERE.parent / "shared" / "datasets"
SEMEVAL_TESTS = ("test_unseen_answers", "test_unseen_questions", "test_unseen_domains")
# Riordan et al. 2017, Table 4 (weighted F1, unseen answers): n-gram baseline / state of the art.
PUBLISHED_SEMEVAL_WF1 = {"beetle": (0.742, 0.845), "scientsbank": (0.661, 0.773)}
# Mohler, Bunescu, Mihalcea 2011, Table 5/7: untrained measures (Pearson r).
MOHLER_UNTRAINED = "tf*idf 0.327, Lesk 0.450 (best trained 0.518; humans 0.586)"


# -- metrics, by hand ---------------------------------------------------------------------------


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float:
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sx = math.sqrt(sum((x - mx) ** 2 for x in xs))
    sy = math.sqrt(sum((y - my) ** 2 for y in ys))
    return sxy / (sx * sy) if sx and sy else 0.0


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


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


# -- the grader under test ----------------------------------------------------------------------


@dataclass(frozen=True)
class Graded:
    score: float
    passed: bool
    flags: tuple[str, ...]
    seconds: float


class Grader:
    """The offline evaluator of whichever ``core`` is on the path (this one, or ``--code``)."""

    def __init__(self) -> None:
        from core.engine.events import LlmTrace
        from core.llm.base import EvaluationRequest, RubricCriterion
        from core.llm.offline import evaluate_offline

        self._request = EvaluationRequest
        self._criterion = RubricCriterion
        self._evaluate = evaluate_offline
        self._trace = LlmTrace("offline", "bench")
        self.takes_examples = "pass_examples" in {f.name for f in fields(EvaluationRequest)}
        self.last_cpu = 0.0

    def request(
        self,
        question: str,
        reference: str | None,
        answer: str,
        points: int,
        passes: Sequence[str] = (),
        fails: Sequence[str] = (),
        rubric: Any = None,
        threshold: int = PASS_THRESHOLD,
    ) -> Any:
        extra: dict[str, Any] = {}
        if self.takes_examples:
            extra = {"pass_examples": tuple(passes), "fail_examples": tuple(fails)}
        criteria = rubric or (
            self._criterion("answer", "Covers the reference answer's key ideas.", points),
        )
        return self._request(
            prompt=question,
            rubric=criteria,
            reference_answer=reference,
            answer=answer,
            points=points,
            pass_threshold=threshold,
            **extra,
        )

    def grade(self, request: Any) -> Graded:
        started, cpu = time.perf_counter(), time.thread_time()
        verdict = self._evaluate(request, trace=self._trace)
        elapsed = time.perf_counter() - started
        self.last_cpu = time.thread_time() - cpu
        score = sum(item.points for item in verdict.items)
        mark = request.points * request.pass_threshold / 100
        return Graded(score, score + 1e-9 >= mark, tuple(verdict.flags), elapsed)


# -- the datasets -------------------------------------------------------------------------------


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def draw_examples(
    rng: random.Random, pool: Sequence[tuple[str, bool]], exclude: str | None = None
) -> tuple[list[str], list[str]]:
    """Up to EXAMPLES_PER_LABEL passing and failing answers from ``pool`` (never ``exclude``)."""
    passes = [text for text, ok in pool if ok and text != exclude]
    fails = [text for text, ok in pool if not ok and text != exclude]
    return (
        rng.sample(passes, min(EXAMPLES_PER_LABEL, len(passes))),
        rng.sample(fails, min(EXAMPLES_PER_LABEL, len(fails))),
    )


def bench_mohler(grader: Grader, datasets: Path) -> dict[str, Any]:
    rows = [
        row
        for row in read_csv(datasets / "mohler" / "mohler2011_unt_v2.csv")
        if row["excluded_in_papers"] == "False"
    ]
    gold = [float(row["score_avg"]) for row in rows]
    gold_pass = [g >= 5 * PASS_THRESHOLD / 100 for g in gold]
    pools: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for row, ok in zip(rows, gold_pass, strict=True):
        pools[row["question_id"]].append((row["student_answer"], ok))
    out: dict[str, Any] = {"n": len(rows)}
    rng = random.Random(SEED)
    for variant in ("reference", "examples"):
        scores, passed = [], []
        for row in rows:
            passes: list[str] = []
            fails: list[str] = []
            if variant == "examples":
                passes, fails = draw_examples(rng, pools[row["question_id"]], row["student_answer"])
            request = grader.request(
                row["question"],
                row["reference_answer"],
                row["student_answer"],
                5,
                passes,
                fails,
            )
            graded = grader.grade(request)
            scores.append(graded.score)
            passed.append(graded.passed)
        out[variant] = {"r": pearson(scores, gold), **vars(agreement(passed, gold_pass))}
    return out


def bench_semeval(grader: Grader, datasets: Path) -> list[dict[str, Any]]:
    rows = read_csv(datasets / "semeval2013" / "semeval2013_task7_2way_3way.csv")
    results = []
    rng = random.Random(SEED)
    for dataset in ("beetle", "scientsbank"):
        train: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        for r in rows:
            if r["dataset"] == dataset and r["split"] == "train":
                train[r["question_id"]].append((r["student_answer"], r["label_2way"] == "correct"))
        for split in SEMEVAL_TESTS:
            chosen = [r for r in rows if r["dataset"] == dataset and r["split"] == split]
            if not chosen:
                continue
            own: dict[str, list[tuple[str, bool]]] = defaultdict(list)
            for r in chosen:
                own[r["question_id"]].append((r["student_answer"], r["label_2way"] == "correct"))
            gold = [r["label_2way"] == "correct" for r in chosen]
            unseen_answers = split == "test_unseen_answers"
            # Unseen answers: a step's examples are fixed, as in a shipped step: 3+3 training
            # answers to the question, or all of them (the task's own protocol).
            fixed = {q: draw_examples(rng, pool) for q, pool in sorted(train.items())}
            everything = {
                q: ([t for t, ok in pool if ok], [t for t, ok in pool if not ok])
                for q, pool in train.items()
            }
            variants = ["none", "3+3 train answers", "all train answers"]
            if not unseen_answers:
                variants = ["none", "3+3 other answers in split"]
            for source in variants:
                predicted = []
                for r in chosen:
                    passes: list[str] = []
                    fails: list[str] = []
                    if source == "3+3 train answers":
                        passes, fails = fixed[r["question_id"]]
                    elif source == "all train answers":
                        passes, fails = everything[r["question_id"]]
                    elif source != "none":
                        pool = own[r["question_id"]]
                        passes, fails = draw_examples(rng, pool, r["student_answer"])
                    request = grader.request(
                        r["question"], r["reference_answer"], r["student_answer"], 1, passes, fails
                    )
                    predicted.append(grader.grade(request).passed)
                results.append(
                    {
                        "dataset": dataset,
                        "split": split,
                        "examples": source,
                        **vars(agreement(predicted, gold)),
                    }
                )
    return results


LEARNED_SIZES = (0, 30, 50, None)  # labels per step model; 0: no model; None: all training answers


def bench_learned(grader: Grader, datasets: Path) -> list[dict[str, Any]]:
    """SemEval-2013 unseen answers graded with a per-question step model (issue 14) trained on N
    of the question's training answers as its reviewed labels, beside the step's 3+3 authored
    examples. A question with fewer than GRADING_MIN_LABELS (30) training answers gets no model
    and is graded by the generic grader, as in the product."""
    try:
        from core.llm.grading_learned import DEFAULT_MIN_LABELS, Labelled, train
    except ImportError:  # a --code checkout without step models
        return []
    rows = read_csv(datasets / "semeval2013" / "semeval2013_task7_2way_3way.csv")
    results = []
    for dataset in ("beetle", "scientsbank"):
        train_pool: dict[str, list[tuple[str, bool]]] = defaultdict(list)
        for r in rows:
            if r["dataset"] == dataset and r["split"] == "train":
                train_pool[r["question_id"]].append(
                    (r["student_answer"], r["label_2way"] == "correct")
                )
        chosen = [
            r for r in rows if r["dataset"] == dataset and r["split"] == "test_unseen_answers"
        ]
        gold = [r["label_2way"] == "correct" for r in chosen]
        rng = random.Random(SEED)
        fixed = {q: draw_examples(rng, pool) for q, pool in sorted(train_pool.items())}
        for size in LEARNED_SIZES:
            sample = random.Random(SEED)
            models = {}
            for q, pool in sorted(train_pool.items()):
                labels = pool if size is None else sample.sample(pool, min(size, len(pool)))
                if size is not None and len(pool) < size:
                    labels = []  # the step has not had that many reviews yet
                models[q] = train(
                    [Labelled(t, ok) for t, ok in labels], min_labels=DEFAULT_MIN_LABELS
                )
            predicted, cpu_ms = [], []
            for r in chosen:
                model = models[r["question_id"]]
                request = grader.request(
                    r["question"],
                    r["reference_answer"],
                    r["student_answer"],
                    1,
                    *fixed[r["question_id"]],
                )
                if model is not None:
                    cpu = time.thread_time()
                    probability, _ = model.assess(r["student_answer"], 4)  # + demonstrations
                    cpu_ms.append((time.thread_time() - cpu) * 1000)
                    request = replace(
                        request, learned_probability=probability, learned_labels=model.label_count
                    )
                predicted.append(grader.grade(request).passed)
            results.append(
                {
                    "dataset": dataset,
                    "labels": "all training answers"
                    if size is None
                    else f"{size} per question"
                    if size
                    else "none (3+3 examples only)",
                    "questions_with_model": sum(m is not None for m in models.values()),
                    "questions": len(models),
                    "model_cpu_ms_p50": percentile(cpu_ms, 50) if cpu_ms else None,
                    "model_cpu_ms_p99": percentile(cpu_ms, 99) if cpu_ms else None,
                    **vars(agreement(predicted, gold)),
                }
            )
    return results


def bench_latency(grader: Grader, datasets: Path) -> dict[str, Any]:
    """Milliseconds per answer on Mohler's steps, each with fixed examples (as a shipped step
    has): ``cold`` is a step's first answer (its material analysed and its cut-off calibrated),
    ``warm`` every answer after that (the steady state)."""
    rows = [
        row
        for row in read_csv(datasets / "mohler" / "mohler2011_unt_v2.csv")
        if row["excluded_in_papers"] == "False"
    ]
    pools: dict[str, list[tuple[str, bool]]] = defaultdict(list)
    for row in rows:
        pools[row["question_id"]].append((row["student_answer"], float(row["score_avg"]) >= 3))
    rng = random.Random(SEED)
    examples = {q: draw_examples(rng, pool) for q, pool in sorted(pools.items())}
    requests = [
        grader.request(
            row["question"],
            row["reference_answer"],
            row["student_answer"],
            5,
            *examples[row["question_id"]],
        )
        for row in rows
    ]
    cold, warm, warm_cpu, seen = [], [], [], set()
    for row, request in zip(rows, requests, strict=True):
        elapsed = grader.grade(request).seconds
        if row["question_id"] not in seen:
            seen.add(row["question_id"])
            cold.append(elapsed)
    for request in requests:
        warm.append(grader.grade(request).seconds)
        warm_cpu.append(grader.last_cpu)
    return {
        "warm_n": len(warm),
        "warm_p50": percentile(warm, 50) * 1000,
        "warm_p99": percentile(warm, 99) * 1000,
        "warm-cpu_n": len(warm_cpu),
        "warm-cpu_p50": percentile(warm_cpu, 50) * 1000,
        "warm-cpu_p99": percentile(warm_cpu, 99) * 1000,
        "cold_n": len(cold),
        "cold_p50": percentile(cold, 50) * 1000,
        "cold_p99": percentile(cold, 99) * 1000,
    }


def bench_false_flags(grader: Grader, datasets: Path) -> dict[str, Any]:
    texts: list[tuple[str, str, str, str]] = []
    for row in read_csv(datasets / "mohler" / "mohler2011_unt_v2.csv"):
        texts.append(("mohler", row["question"], row["reference_answer"], row["student_answer"]))
    for row in read_csv(datasets / "mohler" / "mohler2009_unt_v1.csv"):
        texts.append(("mohler", row["question"], row["reference_answer"], row["student_answer"]))
    for row in read_csv(datasets / "semeval2013" / "semeval2013_task7_2way_3way.csv"):
        texts.append(
            (row["dataset"], row["question"], row["reference_answer"], row["student_answer"])
        )
    flagged: dict[str, int] = defaultdict(int)
    samples: list[str] = []
    for dataset, question, reference, answer in texts:
        graded = grader.grade(grader.request(question, reference, answer, 1))
        if graded.flags:
            flagged[dataset] += 1
            if len(samples) < 5:
                samples.append(f"{dataset}: {', '.join(graded.flags)}: {answer[:80]!r}")
    return {
        "n": len(texts),
        "flagged": sum(flagged.values()),
        "by_dataset": flagged,
        "samples": samples,
    }


def _load_attacks() -> Callable[[Any], list[Any]]:
    """This checkout's attack generator (it also drives a ``--code`` checkout's grader)."""
    path = HERE / "core" / "llm" / "grading_attacks.py"
    spec = importlib.util.spec_from_file_location("_bench_grading_attacks", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    generate: Callable[[Any], list[Any]] = module.generate_attacks
    return generate


# Wrong answers that sound right, from the issue, for the functions challenge's steps.
WRONG_BUT_RIGHT_SOUNDING = {
    "print-vs-return": [
        "return prints the value on the screen, while print gives the value back to the caller "
        "so it can be stored in a variable. Replace return with print.",
        "print sends the value back to the caller and return only displays it on the screen.",
    ],
    "why-functions": [
        "Copy and paste is better than functions; functions make code messy and harder to "
        "read, test and change.",
        "It is NOT true that functions help with reuse, organisation or testing.",
        "Functions do not really make code reusable or easier to maintain.",
    ],
}


def bench_shipped(grader: Grader, challenges: Path) -> dict[str, Any]:
    """Examples in-sample and leave-one-out, generated attacks and wrong-but-right-sounding
    answers, on every shipped chat step."""
    import yaml

    generate = _load_attacks()
    in_sample = loo = total = 0
    attacks = attack_passes = 0
    attack_names: dict[str, int] = defaultdict(int)
    sounding = sounding_passes = 0
    for path in sorted(challenges.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        for step in data["steps"]:
            if step["type"] != "chat":
                continue
            rubric = tuple(
                grader._criterion(
                    item["id"],
                    item["description"],
                    item["points"],
                    tuple(item.get("concepts", ())),
                    **(
                        {"misconceptions": tuple(item.get("misconceptions", ()))}
                        if "misconceptions" in {f.name for f in fields(grader._criterion)}
                        else {}
                    ),
                )
                for item in step["rubric"]
            )
            examples = [(e["answer"], e["expect"] == "pass") for e in step.get("examples", ())]
            passes = [t for t, ok in examples if ok]
            fails = [t for t, ok in examples if not ok]

            def request(
                answer: str,
                p: Sequence[str],
                f: Sequence[str],
                step: dict[str, Any] = step,
                rubric: tuple[Any, ...] = rubric,
            ) -> Any:
                return grader.request(
                    step["prompt"],
                    step.get("reference_answer"),
                    answer,
                    step["points"],
                    p,
                    f,
                    rubric=rubric,
                    threshold=step.get("pass_threshold") or PASS_THRESHOLD,
                )

            for text, ok in examples:
                total += 1
                in_sample += grader.grade(request(text, passes, fails)).passed == ok
                held_p = [t for t in passes if t != text]
                held_f = [t for t in fails if t != text]
                loo += grader.grade(request(text, held_p, held_f)).passed == ok
            base = request("", passes, fails)
            for attack in generate(base):
                attacks += 1
                if grader.grade(replace(base, answer=attack.answer)).passed:
                    attack_passes += 1
                    attack_names[f"{step['id']}: {attack.name}"] += 1
            for answer in WRONG_BUT_RIGHT_SOUNDING.get(step["id"], ()):
                sounding += 1
                sounding_passes += grader.grade(request(answer, passes, fails)).passed
    return {
        "examples": total,
        "in_sample_agreed": in_sample,
        "loo_agreed": loo,
        "attacks": attacks,
        "attack_passes": attack_passes,
        "attacks_that_pass": sorted(attack_names),
        "wrong_but_right_sounding": sounding,
        "wrong_but_right_sounding_passes": sounding_passes,
    }


# -- output -------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    body = [[f"{c:.3f}" if isinstance(c, float) else str(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(row) + " |" for row in body]
    return "\n".join(lines)


def run(datasets: Path, challenges: Path) -> dict[str, Any]:
    grader = Grader()
    figures: dict[str, Any] = {"takes_examples": grader.takes_examples}
    figures["latency_ms"] = bench_latency(grader, datasets)
    figures["mohler"] = bench_mohler(grader, datasets)
    figures["semeval"] = bench_semeval(grader, datasets)
    figures["learned"] = bench_learned(grader, datasets)
    figures["false_flags"] = bench_false_flags(grader, datasets)
    figures["shipped"] = bench_shipped(grader, challenges)
    return figures


def _pair(after: Any, before: Any) -> str:
    if before is None:
        return _fmt(after)
    return f"{_fmt(before)} → {_fmt(after)}"


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def report(after: dict[str, Any], before: dict[str, Any] | None) -> str:
    """Markdown tables; each cell is ``before → after`` when ``before`` is given."""
    b = before or {}
    out = []
    m, mb = after["mohler"], b.get("mohler", {})
    out.append(f"### Mohler et al. 2011 (n={m['n']}; pass = human average ≥ 3)\n")
    rows = []
    for variant in ("reference", "examples"):
        a, o = m[variant], mb.get(variant, {})
        rows.append(
            [
                variant,
                _pair(a["r"], o.get("r")),
                _pair(a["accuracy"], o.get("accuracy")),
                _pair(a["kappa"], o.get("kappa")),
                _pair(a["weighted_f1"], o.get("weighted_f1")),
                _fmt(a["majority_accuracy"]),
            ]
        )
    out.append(table(["examples", "Pearson r", "accuracy", "κ", "weighted F1", "majority"], rows))
    out.append(f"\nThe paper's untrained measures: {MOHLER_UNTRAINED}.\n")
    out.append("### SemEval-2013 Task 7, 2-way\n")
    old = {(s["dataset"], s["split"], s["examples"]): s for s in b.get("semeval", [])}
    rows = []
    for s in after["semeval"]:
        o = old.get((s["dataset"], s["split"], s["examples"]), {})
        rows.append(
            [
                s["dataset"],
                s["split"].removeprefix("test_"),
                s["examples"],
                s["n"],
                _pair(s["weighted_f1"], o.get("weighted_f1")),
                _pair(s["kappa"], o.get("kappa")),
                _pair(s["accuracy"], o.get("accuracy")),
                _fmt(s["majority_accuracy"]),
            ]
        )
    out.append(
        table(
            ["dataset", "split", "examples", "n", "weighted F1", "κ", "accuracy", "majority"],
            rows,
        )
    )
    if after.get("learned"):
        out.append(
            "\n### SemEval-2013 unseen answers with a step model learned from N labelled answers "
            "per question (and 3+3 authored examples)\n"
        )
        out.append(
            table(
                [
                    "dataset",
                    "labels",
                    "questions with a model",
                    "n",
                    "weighted F1",
                    "κ",
                    "accuracy",
                    "step model CPU ms p50 / p99",
                ],
                [
                    [
                        s["dataset"],
                        s["labels"],
                        f"{s['questions_with_model']}/{s['questions']}",
                        s["n"],
                        s["weighted_f1"],
                        s["kappa"],
                        s["accuracy"],
                        f"{s['model_cpu_ms_p50']:.2f} / {s['model_cpu_ms_p99']:.2f}"
                        if s["model_cpu_ms_p50"] is not None
                        else "",
                    ]
                    for s in after["learned"]
                ],
            )
        )
    for dataset, (baseline, best) in PUBLISHED_SEMEVAL_WF1.items():
        out.append(
            f"\npublished weighted F1, {dataset} unseen answers: n-gram baseline {baseline}, "
            f"state of the art {best}"
        )
    sh, shb = after["shipped"], b.get("shipped", {})
    ff, ffb = after["false_flags"], b.get("false_flags", {})
    lat, latb = after["latency_ms"], b.get("latency_ms", {})
    out.append("\n### Shipped challenges, gaming, latency\n")
    out.append(
        table(
            ["measure", "value"],
            [
                ["labelled examples", sh["examples"]],
                [
                    "examples graded as labelled, in-sample",
                    _pair(sh["in_sample_agreed"], shb.get("in_sample_agreed")),
                ],
                [
                    "examples graded as labelled, leave-one-out",
                    _pair(sh["loo_agreed"], shb.get("loo_agreed")),
                ],
                [
                    f"generated attacks that pass (of {sh['attacks']})",
                    _pair(sh["attack_passes"], shb.get("attack_passes")),
                ],
                [
                    f"wrong-but-right-sounding answers that pass (of "
                    f"{sh['wrong_but_right_sounding']})",
                    _pair(
                        sh["wrong_but_right_sounding_passes"],
                        shb.get("wrong_but_right_sounding_passes"),
                    ),
                ],
                [
                    f"honest public answers flagged (of {ff['n']})",
                    _pair(ff["flagged"], ffb.get("flagged")),
                ],
                *[
                    [
                        f"latency {q}, ms per answer, {kind} (n={lat[kind + '_n']})",
                        _pair(lat[f"{kind}_{q}"], latb.get(f"{kind}_{q}")),
                    ]
                    for kind in ("warm", "warm-cpu", "cold")
                    for q in ("p50", "p99")
                ],
            ],
        )
    )
    if sh["attacks_that_pass"]:
        out.append("\nattacks that still pass: " + "; ".join(sh["attacks_that_pass"]))
    if ff["samples"]:
        out.append("\nflagged honest answers, e.g.: " + "; ".join(ff["samples"]))
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--datasets",
        type=Path,
        default=Path(os.environ.get("CURIOUSCORE_DATASETS", DEFAULT_DATASETS)),
    )
    parser.add_argument("--challenges", type=Path, default=HERE / "challenges")
    parser.add_argument("--code", type=Path, help="grade with this checkout's core (before)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--compare", type=Path, help="figures of a --code run, shown as before")
    args = parser.parse_args(argv)
    if args.code is not None:
        sys.path.insert(0, str(args.code.resolve()))
        for name in [m for m in sys.modules if m == "core" or m.startswith("core.")]:
            del sys.modules[name]
    figures = run(args.datasets, args.challenges)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1, default=dict) + "\n", encoding="utf-8")
    before = json.loads(args.compare.read_text(encoding="utf-8")) if args.compare else None
    print(report(figures, before))


if __name__ == "__main__":
    main()
