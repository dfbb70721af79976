"""A quicker ``__init__`` for the engine's frozen, slotted dataclasses.

A frozen dataclass cannot assign its fields in ``__init__`` (its ``__setattr__`` refuses), so the
generated ``__init__`` sets each one through ``object.__setattr__(self, name, value)``: a call
that packs its arguments and looks the name up on the class again, per field and per object.
Every event folded builds a new ``SessionState`` (22 fields) and often a ``StepProgress`` and a
``TranscriptEntry``, and every view builds a dozen more objects: under callgrind a quarter of
the issue flow's instructions were these ``__init__``s. The ``__init__`` written here sets each
slot through the slot's own descriptor (``member_descriptor.__set__``), which does the same
store without the lookup. Instances stay frozen: only ``__init__`` changes.
"""

from __future__ import annotations

import keyword
from dataclasses import MISSING, fields
from typing import Any, TypeVar

T = TypeVar("T")


def quick_init(cls: type[T]) -> type[T]:
    """Given a frozen dataclass with slots, give it an ``__init__`` with the same signature
    (positional or keyword, the same defaults) that sets the slots through their descriptors."""
    if hasattr(cls, "__post_init__"):
        # The dataclass's own __init__ would call it; this one does not, so refuse rather than
        # skip a check silently.
        raise TypeError(f"{cls.__name__} has a __post_init__, which quick_init would not call")
    params: list[str] = []
    body: list[str] = []
    namespace: dict[str, Any] = {"_MISSING": MISSING}
    for field in fields(cls):  # type: ignore[arg-type]
        name = field.name
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_"):
            raise ValueError(f"not a field name quick_init writes: {name!r}")
        if not field.init or field.kw_only:
            raise TypeError(f"{cls.__name__}.{name}: quick_init writes plain fields only")
        descriptor: Any = next((k.__dict__[name] for k in cls.__mro__ if name in k.__dict__), None)
        if type(descriptor).__name__ != "member_descriptor":
            raise TypeError(f"{cls.__name__} is not a slotted dataclass")
        namespace[f"_set_{name}"] = descriptor.__set__
        if field.default is not MISSING:
            namespace[f"_default_{name}"] = field.default
            params.append(f"{name}=_default_{name}")
        elif field.default_factory is not MISSING:
            namespace[f"_factory_{name}"] = field.default_factory
            params.append(f"{name}=_MISSING")
            body.append(f"    if {name} is _MISSING:\n        {name} = _factory_{name}()")
        else:
            params.append(name)
        body.append(f"    _set_{name}(self, {name})")
    source = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body or ["    pass"])
    exec(source, namespace)  # noqa: S102 (field names only, checked above)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
