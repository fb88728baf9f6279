"""Stage registry: every pipeline stage is a small class registered under its recipe name.

A stage wraps one library function: it declares a pydantic ``Params`` model (validated before
any work, unknown keys rejected), what kind of volume it consumes (``grayscale``, ``labels`` or
``any``) and produces, and a ``run`` method returning a :class:`StageOutput`. Stage modules live
in :mod:`microstructure.pipeline.builtin`; each registers itself with :func:`register`, so a new
stage is one new module there.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from microstructure.pipeline.progress import StageProgress
from microstructure.volume import Volume

__all__ = [
    "StageParams",
    "StageOutput",
    "StageContext",
    "StageProgress",
    "Stage",
    "register",
    "get_stage",
    "available_stages",
    "volume_kind",
    "param_default",
    "FILE_PARAMS",
    "file_params",
    "ZARR_THRESHOLD_BYTES",
]

#: Stage outputs larger than this (bytes) are stored as chunked, compressed Zarr, not TIFF, and
#: stages that can run chunked do so on inputs above it (the runner's ``zarr_threshold_bytes``
#: default; re-exported by :mod:`microstructure.pipeline.runner`).
ZARR_THRESHOLD_BYTES = 2 * 1024**3

Kind = Literal["grayscale", "labels", "any"]


class StageParams(BaseModel):
    """Base of every stage's parameter model: strict, immutable, unknown keys rejected."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


@dataclass
class StageOutput:
    """What a stage returns.

    Attributes
    ----------
    volume
        The stage's output volume; ``None`` when the stage only measures (its input is
        passed on unchanged to the next stage).
    numbers
        JSON-serialisable results gathered into ``report.json``.
    tables
        Named column tables (name -> {column: 1D array}), written as ``NAME.csv``.
    figures
        Names of PNG files the stage wrote into its work folder (copied to ``figures/``).
    """

    volume: Volume | None = None
    numbers: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)


@dataclass
class StageContext:
    """What the runner gives a stage besides its input volume and parameters."""

    work_dir: Path  #: temporary folder that becomes OUT/NN-stage when the stage succeeds
    thickness_axis: str = "y"
    top_at: int = 0
    input_volume: Volume | None = None  #: the run's original input (e.g. raw stack)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)  #: numbers so far
    #: progress of the stage (:class:`~microstructure.pipeline.progress.StageProgress`):
    #: truthy when progress is shown, and callable ``progress(done, total=None, message=None)``
    #: (a fraction 0..1 without ``total``); a bool given here is wrapped into one
    progress: StageProgress | bool = True
    #: resumable folder for chunked work (Zarr intermediates and per-chunk completion markers,
    #: e.g. ``resume_dir`` of :func:`microstructure.parallel.invasion_radius_chunked`): kept by
    #: the runner when the stage fails or is interrupted and given again to the rerun of the
    #: same stage with the same input and parameters; removed when the stage has finished.
    chunk_dir: Path | None = None
    #: the runner's size threshold (bytes): stages that can run chunked do so above it
    zarr_threshold_bytes: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.progress, StageProgress):
            self.progress = StageProgress(bool(self.progress))

    def progress_bar(self, iterable: Any = None, **kwargs: Any) -> Any:
        """A tqdm bar (silent when progress is off or stderr is not a terminal)."""
        from tqdm.auto import tqdm

        kwargs.setdefault("leave", False)
        return tqdm(iterable, disable=None if self.progress else True, **kwargs)


class Stage:
    """Base class of pipeline stages (subclass, set the class attributes, implement run)."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    Params: ClassVar[type[StageParams]] = StageParams
    consumes: ClassVar[Kind] = "any"
    produces: ClassVar[Literal["grayscale", "labels", "same", "none"]] = "same"
    #: bump when the stage's algorithm changes so cached results are recomputed
    version: ClassVar[str] = "1"
    #: True when ``run`` accepts a volume whose ``data`` is a Dask array (chunked, lazy). The
    #: runner then passes Zarr-stored volumes (a ``.zarr`` input, or an upstream output stored
    #: as ``volume.zarr``) without loading them; other stages always receive numpy arrays.
    supports_dask: ClassVar[bool] = False
    #: peak memory of ``run`` in memory, bytes per voxel of its input (input excluded); None
    #: uses the measured table :data:`microstructure.pipeline.memory.STAGE_BYTES_PER_VOXEL`.
    #: The runner refuses the stage before it runs when the estimate does not fit the
    #: available memory (:func:`microstructure.pipeline.memory.check_stage_memory`).
    memory_bytes_per_voxel: ClassVar[float | None] = None

    def chunked_refusals(self, params: Any) -> list[str]:
        """``"key: reason"`` for every parameter value this stage cannot run chunked.

        The runner calls it when a recipe is loaded, before any work, for each stage that will
        run chunked (its ``chunks`` key is set, or the input exceeds the size threshold), and
        refuses the recipe naming stage and key. Stages answer from the declaration of the
        function they call (:func:`microstructure.parallel.support.chunked_refusals`), never
        from a list of their own.
        """
        return []

    def chunked_memory(self, params: Any, n_voxels: int) -> list[tuple[str, int, str]]:
        """``(key, bytes, what)`` of each step that runs on the whole (reduced) volume in
        memory when this stage runs chunked on ``n_voxels`` voxels (e.g. the segment stage's
        particle watershed on the gathered AM mask). The runner refuses the recipe at load
        time when one does not fit the available memory. Stages answer from the declaration
        of the function they call (:func:`microstructure.parallel.support.chunked_memory`).
        """
        return []

    def input_files(self, params: Any) -> list[tuple[str, str]]:
        """``(dotted key, path)`` of every file this stage reads besides its input volume.

        The runner hashes their contents into the stage's cache key (an edited scribbles file
        recomputes the stage) and refuses an ``--out`` that contains one. The default finds
        them by convention (:func:`file_params`); override for other keys.
        """
        return file_params(params)

    def run(self, volume: Volume, params: Any, ctx: StageContext) -> StageOutput:
        raise NotImplementedError


_REGISTRY: dict[str, type[Stage]] = {}
_LOADED = False


def register(cls: type[Stage]) -> type[Stage]:
    """Class decorator adding a stage to the registry under ``cls.name``."""
    if not cls.name:
        raise TypeError(f"{cls.__name__}: a stage needs a non-empty `name`")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing.__qualname__ != cls.__qualname__:
        raise TypeError(f"stage name {cls.name!r} registered twice ({existing}, {cls})")
    _REGISTRY[cls.name] = cls
    return cls


def _load_builtin() -> None:
    global _LOADED
    if _LOADED:
        return
    from microstructure.pipeline import builtin

    for mod in pkgutil.iter_modules(builtin.__path__):
        importlib.import_module(f"{builtin.__name__}.{mod.name}")
    _LOADED = True


def available_stages() -> dict[str, type[Stage]]:
    """All registered stages by name."""
    _load_builtin()
    return dict(sorted(_REGISTRY.items()))


def get_stage(name: str) -> type[Stage]:
    """The stage class registered as ``name``; ValueError listing the known ones otherwise."""
    stages = available_stages()
    if name not in stages:
        raise ValueError(f"unknown stage {name!r}; available: {', '.join(stages) or 'none'}")
    return stages[name]


def volume_kind(volume: Volume) -> Literal["grayscale", "labels"]:
    """``labels`` for an integer volume holding only phase codes 0..3, else ``grayscale``."""
    return "labels" if volume.is_labels else "grayscale"


Factory = Callable[[], Stage]

#: parameter keys whose string values are paths of files a stage reads (also any key ending
#: in ``_file`` or ``_path``), e.g. ``scribbles``/``model`` of ``segment``, ``measured.path``
#: of ``mip``
FILE_PARAMS = frozenset({"scribbles", "model", "path", "file", "measured", "curve"})


def _is_file_key(key: str) -> bool:
    return key in FILE_PARAMS or key.endswith(("_file", "_path"))


def file_params(params: Any) -> list[tuple[str, str]]:
    """``(dotted key, path)`` of the file paths among a stage's parameters (nested models,
    dicts and lists included), by the naming convention of :data:`FILE_PARAMS`."""
    found: list[tuple[str, str]] = []

    def walk(prefix: str, key: str, value: Any) -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(f"{prefix}{name}.", name, getattr(value, name))
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}{k}.", str(k), v)
        elif isinstance(value, list | tuple):
            for i, v in enumerate(value):
                walk(f"{prefix}{i}.", key, v)
        elif isinstance(value, str | Path) and str(value) and _is_file_key(key):
            found.append((prefix.rstrip("."), str(value)))

    walk("", "", params)
    return found


def param_default(func: Callable[..., Any], name: str) -> Any:
    """The default of keyword ``name`` of ``func``: the one place a stage option's default lives.

    Stage ``Params`` models read their defaults from the library function they call
    (``Field(param_default(insert_cbd, "contact_angle_deg"), ...)``) instead of restating them.
    """
    import inspect

    param = inspect.signature(func).parameters.get(name)
    if param is None or param.default is inspect.Parameter.empty:
        raise TypeError(f"{getattr(func, '__qualname__', func)} has no default for {name!r}")
    return param.default


# ------------------------------------------------------------------ chunked (Dask) inputs
def is_lazy(data: Any) -> bool:
    """True for a Dask (or other lazily computed) array, False for numpy."""
    return not isinstance(data, np.ndarray) and hasattr(data, "compute")


def in_memory(data: Any) -> Any:
    """``data`` as a numpy array (computes a lazy one)."""
    return np.asarray(data.compute()) if is_lazy(data) else data


def above_size_threshold(volume: Volume, ctx: StageContext) -> bool:
    """True when the volume's bytes exceed the runner's size threshold, above which stages
    that can run chunked do so (``ctx.zarr_threshold_bytes`` when the runner provides it,
    else :data:`ZARR_THRESHOLD_BYTES`)."""
    threshold = getattr(ctx, "zarr_threshold_bytes", None)
    if threshold is None:
        threshold = ZARR_THRESHOLD_BYTES
    return int(volume.data.nbytes) > int(threshold)
