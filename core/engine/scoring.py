"""Scoring rules of PRODUCT §2, as small pure functions."""

from __future__ import annotations

import math
from collections.abc import Collection


def round_points(value: float) -> float:
    """Scores are kept to two decimals so that stored events compare exactly."""
    return round(value + 0.0, 2)


def round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def multi_credit(points: int, correct: Collection[int], picked: Collection[int]) -> float:
    """points × max(0, (right picked − wrong picked) / number right)."""
    right = len(set(picked) & set(correct))
    wrong = len(set(picked) - set(correct))
    return round_points(points * max(0.0, (right - wrong) / len(correct)))


def passes(score: float, points: int, threshold_percent: int) -> bool:
    """A step passes when its score reaches ``threshold_percent`` of its points."""
    return score + 1e-9 >= points * threshold_percent / 100


def hint_cost(points: int, cost_percent: int) -> float:
    return round_points(points * cost_percent / 100)


def xp_for(xp: int, score: float, max_score: int) -> int:
    """XP granted on a first passing completion: xp × (score / max), rounded half up."""
    if max_score <= 0:
        return xp
    return round_half_up(xp * score / max_score)


XP_PER_LEVEL = 500


def level_for(total_xp: int) -> int:
    """Level = 1 + floor(total XP / 500)."""
    return 1 + max(0, total_xp) // XP_PER_LEVEL


def level_bounds(level: int) -> tuple[int, int]:
    """Total XP at which ``level`` begins, and at which the next one begins."""
    return (level - 1) * XP_PER_LEVEL, level * XP_PER_LEVEL
