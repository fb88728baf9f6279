"""magicgui forms built from pydantic parameter models (the stage ``Params`` of a recipe).

Every field becomes a widget made by :func:`magicgui.widgets.create_widget` from its type:

- ``bool`` -> check box, ``int``/``float`` -> spin boxes with the model's bounds (``gt``,
  ``ge``, ``lt``, ``le``) and enough decimals for the default, ``str`` -> line edit,
  ``Literal[...]`` -> combo box, file keys (``scribbles``, ``model``, ``path``, ``*_file``,
  ``*_path``) -> file pickers, ``list[float]``/``list[int]``/``list[str]``/``tuple`` -> list
  and tuple editors;
- ``X | None`` -> the widget of ``X`` behind a "set" check box (unticked = ``None``);
- a nested model -> a sub-form (behind a "set" check box when optional);
- unions of choices (``bool | Literal["auto"]``, ``float | Literal["auto"] | None``),
  dictionaries and lists of models -> a text field taking a number, a word or JSON.

Required fields without default start empty and are named in the one-line error when left
so; fields with a ``default_factory`` start from the factory's value. :meth:`ModelForm.values`
returns only what differs from the model's defaults, so the model validates everything else.
"""

from __future__ import annotations

import json
import math
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from magicgui.widgets import CheckBox, ComboBox, Container, LineEdit, create_widget
from pydantic import BaseModel
from pydantic_core import PydanticUndefined

__all__ = ["ModelForm", "field_default", "UNSET"]

#: a field left at its default (or an empty optional/required field): not passed to the model
UNSET = object()

_FILE_KEYS = frozenset({"scribbles", "model", "path", "file", "curve"})


def field_default(field: Any) -> Any:
    """The default of a pydantic field (calling a ``default_factory``); ``UNSET`` if required."""
    if field.default_factory is not None:
        return field.default_factory()
    if field.default is PydanticUndefined:
        return UNSET
    return field.default


def _strip(ann: Any) -> tuple[Any, list[Any]]:
    """``Annotated[T, ...]`` -> ``(T, metadata)``."""
    meta: list[Any] = []
    while typing.get_origin(ann) is Annotated:
        args = typing.get_args(ann)
        ann, meta = args[0], meta + list(args[1:])
    return ann, meta


def _union_args(ann: Any) -> tuple[Any, ...] | None:
    if typing.get_origin(ann) in (typing.Union, types.UnionType):
        return typing.get_args(ann)
    return None


def _bounds(metadata: list[Any]) -> dict[str, float]:
    """spin-box ``min``/``max`` from annotated-types / FieldInfo constraints."""
    out: dict[str, float] = {}
    for m in metadata:
        for item in [m, *getattr(m, "metadata", [])]:
            for attr, key in (("ge", "min"), ("gt", "min"), ("le", "max"), ("lt", "max")):
                v = getattr(item, attr, None)
                if isinstance(v, int | float):
                    out[key] = float(v)
    return out


def _decimals(value: Any) -> int:
    """Decimals needed to show ``value`` exactly (at least 3, at most 9)."""
    if not isinstance(value, int | float) or value == 0 or not math.isfinite(value):
        return 3
    text = f"{abs(float(value)):.9f}".rstrip("0")
    return min(9, max(3, len(text.split(".")[1]) + 1 if "." in text else 3))


class _Text(LineEdit):
    """A text field for values without a dedicated widget: number, word or JSON."""

    def parse(self) -> Any:
        text = str(self.value).strip()
        if not text:
            return UNSET
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            if text[:1] in "[{":
                raise ValueError(f"{self.name}: not valid JSON: {text[:40]!r}") from None
            return text

    def show(self, value: Any) -> None:
        self.value = (
            ""
            if value is UNSET or value is None
            else (value if isinstance(value, str) else json.dumps(value))
        )


class _Field:
    """One field of a form: its widget and how to read/write the value."""

    def __init__(self, name: str, ann: Any, default: Any, desc: str) -> None:
        self.name, self.default = name, default
        self.optional = False
        inner, meta = _strip(ann)
        args = _union_args(inner)
        if args is not None and type(None) in args:
            rest = tuple(a for a in args if a is not type(None))
            self.optional = True
            inner = rest[0] if len(rest) == 1 else typing.Union[rest]  # noqa: UP007
            inner, more = _strip(inner)
            meta = meta + more
        self.kind, self.inner = self._make(name, inner, meta, default, desc)
        if self.optional:
            self.enabled = CheckBox(name=f"{name}_set", text="set", value=default is not None)
            self.enabled.tooltip = "tick to set a value (unticked: none)"
            self.enabled.changed.connect(self._toggle)
            nested = self.kind == "model"  # a sub-form goes below its tick box
            self.widget: Any = Container(
                name=name,
                widgets=[self.enabled, self.inner],
                layout="vertical" if nested else "horizontal",
                labels=False,
            )
            self.widget.margins = (0, 0, 0, 0)
            self.widget.tooltip = f"{desc} (untick: none)"
            self._toggle()
        else:
            self.widget = self.inner

    def _toggle(self, *_: Any) -> None:
        self.inner.enabled = bool(self.enabled.value)
        if self.kind == "model":  # an unticked sub-form is hidden
            self.inner.native.setHidden(not self.enabled.value)

    def _make(self, name: str, ann: Any, meta: list, default: Any, desc: str) -> tuple[str, Any]:
        start = None if default is UNSET else default
        origin = typing.get_origin(ann)
        opts: dict[str, Any] = {}
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            form = ModelForm(ann, name=name)
            if isinstance(start, BaseModel):
                form.set_values(**start.model_dump())
            return "model", form
        if origin is Literal:
            choices = list(typing.get_args(ann))
            value = start if start in choices else choices[0]
            return "plain", ComboBox(name=name, choices=choices, value=value, tooltip=desc)
        if ann is bool:
            return "plain", CheckBox(name=name, value=bool(start), tooltip=desc)
        if ann in (int, float):
            opts = {"min": -1e12, "max": 1e12, **_bounds(meta)}
            if ann is int:
                opts = {
                    k: int(math.ceil(v) if k == "min" else math.floor(v)) for k, v in opts.items()
                }
                opts["min"], opts["max"] = max(opts["min"], -(2**31)), min(opts["max"], 2**31 - 1)
            value = start if isinstance(start, int | float) else 0  # unset: shown as 0
            value = min(max(value, opts["min"]), opts["max"])
            w = create_widget(value=value, annotation=ann, name=name, options=opts)
            if ann is float:
                w.step = 10.0 ** -_decimals(start)  # sets the decimals shown
                w.step = 10.0 ** (math.floor(math.log10(abs(value))) - 1) if value else 0.1
                w.value = value  # again, now shown with all its decimals
            w.tooltip = desc
            return "plain", w
        if ann in (str, Path) and (name in _FILE_KEYS or name.endswith(("_file", "_path"))):
            w = create_widget(value=start or "", annotation=Path, name=name, options={"mode": "r"})
            w.tooltip = desc
            return "path", w
        if ann is str:
            return "plain", LineEdit(name=name, value=start or "", tooltip=desc)
        elem = typing.get_args(ann)
        if (
            origin in (list, tuple)
            and elem
            and all(_strip(e)[0] in (int, float, str) for e in elem if e is not Ellipsis)
        ):
            plain = tuple if origin is tuple and Ellipsis not in elem else list
            clean = [_strip(e)[0] for e in elem if e is not Ellipsis]
            ann2 = plain[tuple(clean)] if plain is tuple else list[clean[0]]  # type: ignore[index]
            value = start if start is not None else ([] if plain is list else None)
            w = create_widget(value=value, annotation=ann2, name=name)
            w.tooltip = desc
            return "plain", w
        w = _Text(name=name, tooltip=f"{desc} (a number, a word or JSON)")
        w.show(default)
        return "text", w

    # ------------------------------------------------------------------ values
    def get(self) -> Any:
        if self.optional and not self.enabled.value:
            return None if self.default is not None else UNSET
        if self.kind == "model":
            return self.inner.values(complete=True)
        if self.kind == "text":
            return self.inner.parse()
        value = self.inner.value
        if self.kind == "path":
            text = str(value) if value is not None else ""
            return UNSET if text in ("", ".") else text
        if isinstance(value, tuple) and not isinstance(self.default, tuple):
            value = list(value)
        return value

    def set(self, value: Any) -> None:
        if self.optional:
            self.enabled.value = value is not None
            if value is None:
                return
        if self.kind == "model":
            self.inner.set_values(**(value.model_dump() if isinstance(value, BaseModel) else value))
        elif self.kind == "text":
            self.inner.show(value)
        else:
            if isinstance(value, float) and hasattr(self.inner, "step") and self.inner.step:
                step = self.inner.step
                self.inner.step = min(step, 10.0 ** -_decimals(value))  # show all decimals
                self.inner.step = step
            self.inner.value = value


class ModelForm(Container):
    """A magicgui form for a pydantic model: one widget per field (see module docstring)."""

    def __init__(self, model: type[BaseModel], *, name: str = "parameters") -> None:
        super().__init__(name=name, labels=True)
        self.model = model
        self.fields: dict[str, _Field] = {}
        for fname, info in model.model_fields.items():
            f = _Field(fname, info.annotation, field_default(info), info.description or "")
            self.fields[fname] = f
            self.append(f.widget)

    def values(self, *, complete: bool = False) -> dict[str, Any]:
        """The form's values that differ from the model's defaults (the model fills the rest).

        Raises
        ------
        ValueError
            For a required field left empty (named) or malformed JSON in a text field.
        """
        out: dict[str, Any] = {}
        missing = []
        for fname, f in self.fields.items():
            value = f.get()
            if value is UNSET:
                if f.default is UNSET:
                    missing.append(fname)
                continue
            if complete or value != f.default or f.default is UNSET:
                out[fname] = value
        if missing:
            raise ValueError(f"{self.name}: required field(s) {', '.join(missing)} left empty")
        return out

    def set_values(self, **values: Any) -> None:
        """Set fields by name (``None`` unticks an optional field)."""
        for fname, value in values.items():
            if fname not in self.fields:
                raise ValueError(f"{self.name}: no parameter {fname!r} in {self.model.__name__}")
            self.fields[fname].set(value)
