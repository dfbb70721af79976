"""to_plain: frozen dataclasses to JSON-able values, the same for every object of a class."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from core.engine.plain import to_plain, to_sorted_plain


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


def _key_orders(value: object) -> list[list[str]]:
    """The keys of every mapping in ``value``, in iteration order."""
    if isinstance(value, dict):
        return [list(value), *(order for item in value.values() for order in _key_orders(item))]
    if isinstance(value, list):
        return [order for item in value for order in _key_orders(item)]
    return []


def test_sorted_plain_is_plain_with_every_dataclass_in_key_order():
    tree = Tree(
        (Leaf("a", Colour.RED, 1.5), Leaf("b", Colour.RED)),
        ("x",),
        {"k": [1]},
        Leaf("r", Colour.RED),
    )
    sorted_plain = to_sorted_plain(tree)
    assert sorted_plain == to_plain(tree)
    assert list(to_plain(tree)) == ["leaves", "tags", "extra", "root"]  # to_plain: field order
    assert list(sorted_plain) == ["extra", "leaves", "root", "tags"]
    assert all(order == sorted(order) for order in _key_orders(sorted_plain))
    assert to_sorted_plain(Empty()) == {}
    assert to_sorted_plain((1, "a", None)) == [1, "a", None]


def test_an_empty_tuple_is_a_new_empty_list_each_time() -> None:
    # The converters write CPython's one empty tuple as [] without a call: a fresh list each
    # time (a caller may change what it gets), the same as any other empty sequence gives.
    first, second = to_plain(Tree(())), to_sorted_plain(Tree(()))
    assert first["leaves"] == first["tags"] == second["leaves"] == []
    assert first["leaves"] is not first["tags"] and first["leaves"] is not second["leaves"]
    other = to_plain(Tree([], tags=tuple(x for x in "")))  # type: ignore[arg-type]
    assert other["leaves"] == other["tags"] == []
    assert to_plain(Tree((Leaf("a", Colour.RED),)))["leaves"] == [
        {"name": "a", "colour": "red", "weight": None}
    ]
