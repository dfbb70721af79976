"""Response models generated from core's frozen dataclasses: one definition, no hand-written mirror.

``model_of(SessionView, ...)`` walks the dataclass's fields (nested dataclasses, tuples, unions,
enums) and builds the pydantic model FastAPI documents in /openapi.json and validates responses
against. What only the API adds (the server-rendered ``*_html`` fields) is declared beside it, per
dataclass, so the OpenAPI document says exactly what a response holds.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from pydantic import BaseModel, Field, create_model

# A field the API adds to a dataclass's JSON: (type, default or ..., description).
Extra = tuple[Any, Any, str]


class ModelFactory:
    """Builds (once) a pydantic model per dataclass, named by ``names`` or ``<Name>Out``."""

    def __init__(
        self,
        *,
        names: dict[type, str] | None = None,
        extras: dict[type, dict[str, Extra]] | None = None,
        descriptions: dict[type, dict[str, str]] | None = None,
    ) -> None:
        self._names = names or {}
        self._extras = extras or {}
        self._descriptions = descriptions or {}
        self._models: dict[type, type[BaseModel]] = {}

    def model_of(self, cls: type) -> type[BaseModel]:
        """The response model of dataclass ``cls`` (its fields, then the API's extras)."""
        known = self._models.get(cls)
        if known is not None:
            return known
        hints = typing.get_type_hints(cls)
        described = self._descriptions.get(cls, {})
        fields: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            annotation = self._translate(hints[f.name])
            if f.default is not dataclasses.MISSING:
                default: Any = Field(f.default, description=described.get(f.name))
            elif f.default_factory is not dataclasses.MISSING:
                default = Field(
                    default_factory=f.default_factory, description=described.get(f.name)
                )
            else:
                default = Field(..., description=described.get(f.name))
            fields[f.name] = (annotation, default)
        for name, (annotation, value, description) in self._extras.get(cls, {}).items():
            fields[name] = (annotation, Field(value, description=description))
        name = self._names.get(cls) or cls.__name__.removesuffix("View") + "Out"
        doc = cls.__doc__ or ""
        # a dataclass without a docstring gets its signature as one: not worth documenting
        model: type[BaseModel] = create_model(
            name, __doc__=None if doc.startswith(f"{cls.__name__}(") else doc, **fields
        )
        self._models[cls] = model
        return model

    def _translate(self, annotation: Any) -> Any:
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
            return self.model_of(annotation)
        if origin is tuple:
            item = args[0] if len(args) == 2 and args[1] is Ellipsis else Any
            return list[self._translate(item)]  # type: ignore[misc]
        if origin in (typing.Union, types.UnionType):
            members = tuple(self._translate(a) for a in args)
            return typing.Union[members]  # noqa: UP007
        return annotation
