"""Recipes: a TOML file listing stages with parameters, validated before any work.

Format::

    [recipe]
    name = "labels-analysis"
    description = "Porosity of a segmented electrode"

    [electrode]              # optional, defaults shown
    thickness_axis = "y"
    top_at = 0               # 0: separator side at index 0; -1: at the end

    [input]                  # optional defaults for `microstructure run`
    labels = "pore=0,am=85,cbd=170"
    voxel_size_nm = [37.2, 37.2, 37.2]

    [[stage]]
    name = "porosity"
    faces = "all"

Every problem (unknown section, stage or parameter, wrong type, out-of-range value) is one
``ValueError`` line naming the file, the stage (number and name) and the key.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from microstructure.faces import axis_index
from microstructure.pipeline.stages import Stage, StageParams, get_stage
from microstructure.volume import parse_voxel_size

__all__ = ["Recipe", "StageSpec", "load_recipe", "parse_recipe"]

_TOP_KEYS = {"recipe", "electrode", "input", "phantom", "stage"}
_RECIPE_KEYS = {"name", "description"}
_ELECTRODE_KEYS = {"thickness_axis", "top_at"}
_INPUT_KEYS = {"labels", "voxel_size_nm"}


@dataclass(frozen=True)
class StageSpec:
    """One validated stage entry of a recipe."""

    index: int  #: 1-based position in the recipe
    name: str
    stage: type[Stage]
    params: StageParams
    #: the stage's key in ``report.json["numbers"]`` and ``StageContext.results``: its name,
    #: ``NAME-2``, ``NAME-3``, ... for later stages of the same name
    result_key: str = ""

    @property
    def dirname(self) -> str:
        return f"{self.index:02d}-{self.name}"

    @property
    def key(self) -> str:
        """The stage's unique key among the recipe's results (see ``result_key``)."""
        return self.result_key or self.name


@dataclass
class Recipe:
    """A validated recipe."""

    path: str
    name: str
    description: str = ""
    thickness_axis: str = "y"
    top_at: int = 0
    input_labels: str | None = None
    input_voxel_size_nm: tuple[float, float, float] | None = None
    stages: list[StageSpec] = field(default_factory=list)
    sha256: str = ""
    #: generator parameters of the ``[phantom]`` section (the recipe makes its own input)
    phantom: dict[str, Any] | None = None


def _format_validation_error(where: str, err: ValidationError) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first.get("loc", ())) or "(parameters)"
    kind = first.get("type", "")
    if kind == "extra_forbidden":
        return f"{where}: unknown parameter {loc!r}"
    if kind == "missing":
        return f"{where}: missing required parameter {loc!r}"
    value = first.get("input")
    msg = first.get("msg", "invalid value")
    return f"{where}: parameter {loc!r} = {value!r}: {msg}"


def parse_recipe(doc: dict[str, Any], *, path: str = "<recipe>", text: str = "") -> Recipe:
    """Validate a parsed TOML document into a :class:`Recipe`."""
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise ValueError(
            f"{path}: unknown section(s) {sorted(unknown)}; expected [recipe], [electrode], "
            "[input], [phantom] and [[stage]] entries"
        )
    meta = doc.get("recipe", {})
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: [recipe] must be a table")
    bad = set(meta) - _RECIPE_KEYS
    if bad:
        raise ValueError(f"{path}: [recipe]: unknown key(s) {sorted(bad)}")
    for key in ("name", "description"):
        if key in meta and not isinstance(meta[key], str):
            raise ValueError(
                f'{path}: [recipe] {key}: expected a quoted string (name = "..."), '
                f"got {type(meta[key]).__name__} {meta[key]!r}"
            )
    recipe = Recipe(
        path=path,
        name=str(meta.get("name", Path(path).stem)),
        description=str(meta.get("description", "")),
        sha256=hashlib.sha256(text.encode()).hexdigest() if text else "",
    )
    electrode = doc.get("electrode", {})
    if not isinstance(electrode, dict):
        raise ValueError(f"{path}: [electrode] must be a table, got {electrode!r}")
    bad = set(electrode) - _ELECTRODE_KEYS
    if bad:
        raise ValueError(f"{path}: [electrode]: unknown key(s) {sorted(bad)}")
    if "thickness_axis" in electrode:
        axis_index(electrode["thickness_axis"], name=f"{path}: [electrode] thickness_axis")
        recipe.thickness_axis = str(electrode["thickness_axis"]).lower()
    if "top_at" in electrode:
        if electrode["top_at"] not in (0, -1):
            raise ValueError(
                f"{path}: [electrode] top_at: expected 0 or -1, got {electrode['top_at']!r}"
            )
        recipe.top_at = int(electrode["top_at"])
    inp = doc.get("input", {})
    if not isinstance(inp, dict):
        raise ValueError(f"{path}: [input] must be a table, got {inp!r}")
    bad = set(inp) - _INPUT_KEYS
    if bad:
        raise ValueError(f"{path}: [input]: unknown key(s) {sorted(bad)}")
    if "labels" in inp:
        from microstructure.io.labels import parse_label_map

        parse_label_map(str(inp["labels"]), name=f"{path}: [input] labels")
        recipe.input_labels = str(inp["labels"])
    if "voxel_size_nm" in inp:
        recipe.input_voxel_size_nm = parse_voxel_size(
            inp["voxel_size_nm"], name=f"{path}: [input] voxel_size_nm"
        )

    if "phantom" in doc:
        from microstructure.pipeline.phantom_input import resolve_phantom_section

        recipe.phantom = resolve_phantom_section(doc["phantom"], recipe_path=path)

    entries = doc.get("stage", [])
    if not isinstance(entries, list) or not entries:
        raise ValueError(f'{path}: no stages; add [[stage]] entries with name = "..."')
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or "name" not in entry:
            raise ValueError(f'{path}: stage {i}: missing name = "..."')
        if not isinstance(entry["name"], str):
            raise ValueError(
                f'{path}: stage {i}: name: expected a quoted stage name (name = "..."), '
                f"got {type(entry['name']).__name__} {entry['name']!r}"
            )
        name = entry["name"]
        try:
            cls = get_stage(name)
        except ValueError as exc:
            raise ValueError(f"{path}: stage {i}: {exc}") from None
        raw = {k: v for k, v in entry.items() if k != "name"}
        try:
            params = cls.Params(**raw)
        except ValidationError as exc:
            raise ValueError(_format_validation_error(f"{path}: stage {i} {name!r}", exc)) from None
        except ValueError as exc:  # validators raising plain ValueError
            raise ValueError(f"{path}: stage {i} {name!r}: {exc}") from None
        seen = sum(1 for s in recipe.stages if s.name == name)
        result_key = name if not seen else f"{name}-{seen + 1}"
        recipe.stages.append(
            StageSpec(index=i, name=name, stage=cls, params=params, result_key=result_key)
        )
    return recipe


def load_recipe(path: str | Path) -> Recipe:
    """Read and validate a recipe file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: recipe file not found")
    text = p.read_text(encoding="utf-8")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{p}: not valid TOML ({exc})") from None
    return parse_recipe(doc, path=str(p), text=text)
