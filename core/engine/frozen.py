"""A quicker ``__init__`` for the engine's frozen, slotted dataclasses.

A frozen dataclass cannot assign its fields in ``__init__`` (its ``__setattr__`` refuses), so the
generated ``__init__`` sets each one through ``object.__setattr__(self, name, value)``: a call
that packs its arguments and looks the name up on the class again, per field and per object.
Every event folded builds a new ``SessionState`` (22 fields) and often a ``StepProgress`` and a
``TranscriptEntry``, and every view builds a dozen more objects: under callgrind a quarter of
the issue flow's instructions were these ``__init__``s. The ``__init__`` written here sets each
slot through the slot's own descriptor (``member_descriptor.__set__``), which does the same
store without the lookup. Instances stay frozen: only ``__init__`` changes.

Quicker still (session 9): a method-wrapper call per field was still ~60 ns, ~0.8 µs for a
``SessionState``. An attribute store on a class with the plain ``object.__setattr__`` is one
specialised bytecode (``STORE_ATTR_SLOT``), so ``__init__`` turns the new object into a twin
class with the same bases and slots but no frozen ``__setattr__``, stores each field, and turns
it back (CPython allows ``__class__`` assignment between classes of the same layout; checked
when the class is decorated, else the descriptors are used). ``SessionState``: ~0.85 → ~0.47 µs;
the use cases in process (``bench_asgi --callgrind --through service``): 1,072k → 1,007k
instructions per request (−6.1 %).
The twin exists only inside ``__init__``; an object of a subclass that inherits this
``__init__`` is built through the descriptors, so it keeps its own class.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from dataclasses import MISSING, fields
from operator import attrgetter
from typing import Any, TypeVar

T = TypeVar("T")
# class given to quick_init -> its twin (see _twin), for the classes that have one
_TWINS: dict[type, type] = {}


def quick_init(cls: type[T]) -> type[T]:
    """Given a frozen dataclass with slots, give it an ``__init__`` with the same signature
    (positional or keyword, the same defaults) that sets the slots without ``__setattr__``."""
    if hasattr(cls, "__post_init__"):
        # The dataclass's own __init__ would call it; this one does not, so refuse rather than
        # skip a check silently.
        raise TypeError(f"{cls.__name__} has a __post_init__, which quick_init would not call")
    params: list[str] = []
    defaults: list[str] = []  # the default factories' calls
    by_descriptor: list[str] = []
    by_store: list[str] = []
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
            defaults.append(f"    if {name} is _MISSING:\n        {name} = _factory_{name}()")
        else:
            params.append(name)
        by_descriptor.append(f"_set_{name}(self, {name})")
        by_store.append(f"self.{name} = {name}")
    twin = _twin(cls) if by_store else None
    if twin is None:
        body = defaults + [f"    {line}" for line in by_descriptor]
    else:
        _TWINS[cls] = twin
        namespace.update(_type=type, _cls=cls, _twin=twin, _set_class=object.__setattr__)
        body = [
            *defaults,
            "    if _type(self) is _cls:  # a subclass inheriting this keeps its class",
            "        _set_class(self, '__class__', _twin)",
            *(f"        {line}" for line in by_store),
            "        self.__class__ = _cls",
            "    else:",
            *(f"        {line}" for line in by_descriptor),
        ]
    source = f"def __init__(self, {', '.join(params)}):\n" + "\n".join(body or ["    pass"])
    exec(source, namespace)  # noqa: S102 (field names only, checked above)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    cls.__init__ = init  # type: ignore[method-assign]
    return cls


def rebuilder(cls: type[T]) -> Callable[[T, dict[str, Any]], T]:
    """Given a class, return a function that, given an object of exactly that class and a mapping
    of some of its field names to new values, returns ``dataclasses.replace(value, **changes)``
    (for classes without ``__post_init__``: every field in ``__init__``, as quick_init's are).

    For a quick_init class with a twin, the new object is a twin whose slots are copied from
    ``value`` (one specialised load and store each), changed, and turned into ``cls``: the fold
    builds a ``SessionState`` per event this way, about half the instructions of reading the
    fields into a list and calling the class with 22 arguments. Otherwise, that list and call."""
    names = tuple(f.name for f in fields(cls))  # type: ignore[arg-type]
    known = frozenset(names)
    twin = _TWINS.get(cls)
    if twin is None:
        get_all = attrgetter(*names)
        position = {name: index for index, name in enumerate(names)}

        def rebuilt(value: T, changes: dict[str, Any]) -> T:
            values = list(get_all(value))
            for name, new in changes.items():
                values[position[name]] = new
            return cls(*values)

        return rebuilt
    lines = [
        "def rebuilt(value, changes):",
        "    new = _new(_twin)",
        *(f"    new.{name} = value.{name}" for name in names),  # checked by quick_init
        "    for name, changed in changes.items():",
        "        if name not in _known:",
        "            raise TypeError(f'{_cls.__name__} has no field {name!r}')",
        "        _setattr(new, name, changed)",
        "    new.__class__ = _cls",
        "    return new",
    ]
    namespace: dict[str, Any] = {
        "_new": object.__new__,
        "_twin": twin,
        "_cls": cls,
        "_known": known,
        "_setattr": setattr,
    }
    exec("\n".join(lines), namespace)  # noqa: S102 (field names only, checked by quick_init)
    built: Callable[[T, dict[str, Any]], T] = namespace["rebuilt"]
    return built


def _twin(cls: type) -> type | None:
    """A class with ``cls``'s bases and own slots whose attribute stores are ``object``'s, which
    an object of ``cls`` can become and leave again (``__class__`` assignment); None when CPython
    refuses that for this class (another layout), and ``__init__`` then uses the descriptors."""
    slots = cls.__dict__.get("__slots__")
    if not isinstance(slots, tuple) or "__dict__" in slots:
        return None
    twin = type(
        f"{cls.__name__}Building",
        cls.__bases__,
        {
            "__slots__": slots,
            "__setattr__": object.__setattr__,
            "__delattr__": object.__delattr__,
            "__module__": cls.__module__,
            "__qualname__": f"{cls.__qualname__}Building",
        },
    )
    probe: Any = object.__new__(cls)
    try:
        object.__setattr__(probe, "__class__", twin)
        probe.__class__ = cls
    except TypeError:
        return None
    return twin
