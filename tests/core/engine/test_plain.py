"""to_plain: frozen dataclasses to JSON-able values, the same for every object of a class."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from core.engine.plain import to_plain


class Colour(StrEnum):
    RED = "red"


@dataclass(frozen=True, slots=True)
class Leaf:
    name: str
    colour: Colour
    weight: float | None = None


@dataclass(frozen=True, slots=True)
class Tree:
    leaves: tuple[Leaf, ...]
    tags: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)
    root: Leaf | None = None


@dataclass(frozen=True)
class Empty:
    pass


def test_nested_dataclasses_become_dicts_tuples_lists_and_enums_their_values():
    tree = Tree((Leaf("a", Colour.RED, 1.5), Leaf("b", Colour.RED)), ("x",), {"k": [1]})
    assert to_plain(tree) == {
        "leaves": [
            {"name": "a", "colour": "red", "weight": 1.5},
            {"name": "b", "colour": "red", "weight": None},
        ],
        "tags": ["x"],
        "extra": {"k": [1]},
        "root": None,
    }
    assert type(to_plain(tree)["leaves"][0]["colour"]) is str


def test_every_object_of_a_class_is_converted_by_its_own_values():
    first, second = Leaf("a", Colour.RED, 1.0), Leaf("b", Colour.RED, (1, (2, 3)))  # type: ignore[arg-type]
    assert to_plain(first)["name"] == "a"
    assert to_plain(second) == {"name": "b", "colour": "red", "weight": [1, [2, 3]]}
    assert to_plain(Tree((), root=second))["root"] == to_plain(second)


def test_scalars_and_unknown_values_are_returned_as_they_are():
    for value in ("s", 1, 2.5, True, None, {"a": (1,)}):
        assert to_plain(value) is value
    assert to_plain(Empty()) == {}
    assert to_plain(Leaf) is Leaf  # a class is not an instance
