"""IdentityMemo: a result is reused only for the very objects it was worked out from."""

from __future__ import annotations

import pytest

from core.engine.memo import BoundedDict, IdentityMemo, ObjectMemo


def test_the_same_objects_get_the_remembered_result() -> None:
    calls: list[tuple[object, ...]] = []
    memo: IdentityMemo[str] = IdentityMemo(4)
    key = (["a"], "b")

    def work(*args: object) -> str:
        calls.append(args)
        return f"result {len(calls)}"

    assert memo.get(key, work) == "result 1"
    assert memo.get(key, work) == "result 1"
    assert calls == [key]


def test_equal_objects_are_not_the_same_objects() -> None:
    """``1 == True`` and ``[1] == [1]``, but each is written differently or may change: each
    gets its own result."""
    memo: IdentityMemo[str] = IdentityMemo(4)

    assert memo.get((1,), repr) == "1"
    assert memo.get((True,), repr) == "True"
    first, second = [1], [1]
    assert memo.get((first,), lambda value: f"first {value}") == "first [1]"
    assert memo.get((second,), lambda value: f"second {value}") == "second [1]"


def test_the_least_recently_used_result_is_dropped() -> None:
    memo: IdentityMemo[int] = IdentityMemo(2)
    a, b, c = object(), object(), object()
    memo.get((a,), lambda _: 1)
    memo.get((b,), lambda _: 2)
    memo.get((a,), lambda _: 99)  # a is used again: b is now the oldest
    memo.get((c,), lambda _: 3)

    assert len(memo) == 2
    assert memo.get((a,), lambda _: 99) == 1
    assert memo.get((b,), lambda _: 20) == 20  # worked out again


def test_a_memo_holds_something() -> None:
    with pytest.raises(ValueError, match="at least one"):
        IdentityMemo(0)


def test_an_object_memo_reuses_a_result_only_for_the_same_object() -> None:
    calls: list[object] = []
    memo: ObjectMemo[str] = ObjectMemo(2)

    def work(item: object) -> str:
        calls.append(item)
        return f"result {len(calls)}"

    first, equal = (1,), (1.0,)
    assert memo.get(first, work) == "result 1"
    assert memo.get(first, work) == "result 1"
    assert memo.get(equal, work) == "result 2"  # equal, but not the same object
    assert calls == [first, equal]


def test_a_full_object_memo_starts_again_empty() -> None:
    memo: ObjectMemo[int] = ObjectMemo(2)
    a, b, c = object(), object(), object()
    memo.get(a, lambda _: 1)
    memo.get(b, lambda _: 2)
    assert memo.get(b, lambda _: 20) == 2  # kept
    memo.get(c, lambda _: 3)
    assert len(memo) == 1
    assert memo.get(c, lambda _: 30) == 3  # kept
    assert memo.get(a, lambda _: 10) == 10  # dropped, worked out again
    with pytest.raises(ValueError, match="at least one"):
        ObjectMemo(0)


def test_a_full_bounded_dict_starts_again_empty_and_keep_returns_the_value() -> None:
    cache: BoundedDict[str, int] = BoundedDict(2)
    assert cache.keep("a", 1) == 1
    assert cache.keep("b", 2) == 2
    assert cache.keep("b", 20) == 20  # full: emptied first, then kept
    assert dict(cache) == {"b": 20}
    cache.keep("c", 3)
    assert cache.get("b") == 20 and cache.get("c") == 3 and cache.get("a") is None
    with pytest.raises(ValueError, match="at least one"):
        BoundedDict(0)
