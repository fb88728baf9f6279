"""The :class:`Volume` container, phase labels and validation shared by every stage.

Arrays are (z, y, x): z is the FIB slice index (milling direction), y the image rows,
x the image columns. Voxel sizes are always 3-tuples in nanometres, (z, y, x).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import numpy as np

__all__ = [
    "Phase",
    "PORE_PHASES",
    "SOLID_PHASES",
    "PHASE_NAMES",
    "Volume",
    "parse_voxel_size",
    "check_volume",
    "check_labels",
    "labels_from_pore_mask",
    "require_3d",
    "require_pore_and_solid",
    "refuse_all_pore",
    "MIN_VOXEL_SIZE_NM",
    "MAX_VOXEL_SIZE_NM",
]

#: smallest accepted voxel edge (nm): below atomic spacing no tomogram resolves anything
MIN_VOXEL_SIZE_NM = 0.1
#: largest accepted voxel edge (nm) = 1 mm: a coarser "voxel" is not a microstructure image
MAX_VOXEL_SIZE_NM = 1e6


class Phase(IntEnum):
    """Phase codes of a labels volume (uint8)."""

    PORE = 0  #: resolved pore space (electrolyte / Hg accessible)
    AM = 1  #: active material
    CBD = 2  #: carbon-binder domain, solid part
    CBD_PORE = 3  #: resolved nanopore inside the CBD


#: Phases that are pore space for porosity, MIP and ionic transport.
PORE_PHASES: tuple[int, ...] = (Phase.PORE.value, Phase.CBD_PORE.value)
#: Phases that are solid.
SOLID_PHASES: tuple[int, ...] = (Phase.AM.value, Phase.CBD.value)
#: Names used on the command line (``--labels pore=0,am=85,cbd=170``) and in JSON keys.
PHASE_NAMES: dict[int, str] = {0: "pore", 1: "am", 2: "cbd", 3: "cbd_pore"}


def parse_voxel_size(value: Any, *, name: str = "voxel_size_nm") -> tuple[float, float, float]:
    """Turn a voxel size into a validated (z, y, x) tuple in nm.

    Parameters
    ----------
    value
        A positive number (isotropic), a sequence of three positive numbers (z, y, x), or a
        string ``"37.2"`` / ``"20,37.2,37.2"``.
    name
        Parameter name used in error messages.

    Raises
    ------
    ValueError
        If the value is not one or three positive finite numbers, or a size lies outside
        ``MIN_VOXEL_SIZE_NM`` .. ``MAX_VOXEL_SIZE_NM`` (0.1 nm .. 1 mm).
    """
    if isinstance(value, str):
        parts = [p for p in value.replace(" ", "").split(",") if p]
        try:
            nums = [float(p) for p in parts]
        except ValueError:
            raise ValueError(
                f"{name}: expected a number or Z,Y,X numbers in nm, got {value!r}"
            ) from None
    elif isinstance(value, int | float | np.integer | np.floating):
        nums = [float(value)]
    elif isinstance(value, Sequence | np.ndarray):
        try:
            nums = [float(v) for v in value]
        except (TypeError, ValueError):
            raise ValueError(f"{name}: expected numbers in nm, got {value!r}") from None
    else:
        raise ValueError(f"{name}: expected a number or three numbers in nm, got {value!r}")
    if len(nums) == 1:
        nums = nums * 3
    if len(nums) != 3:
        raise ValueError(f"{name}: expected 1 or 3 values (z, y, x) in nm, got {len(nums)}")
    if not all(math.isfinite(v) and v > 0 for v in nums):
        raise ValueError(f"{name}: every voxel size must be a positive number of nm, got {nums}")
    for v in nums:
        if not MIN_VOXEL_SIZE_NM <= v <= MAX_VOXEL_SIZE_NM:
            raise ValueError(
                f"{name}: voxel size {v:g} nm is outside the physical range "
                f"{MIN_VOXEL_SIZE_NM:g} nm .. {MAX_VOXEL_SIZE_NM:g} nm (1 mm)"
            )
    return (nums[0], nums[1], nums[2])


def check_volume(
    data: Any,
    *,
    name: str = "volume",
    ndim: int = 3,
    allow_nan: bool = False,
    min_size: int = 1,
) -> np.ndarray:
    """Validate an image/volume at a public boundary and return it as an ndarray.

    Raises a one-line ``ValueError`` naming ``name`` for: wrong dimensionality, an empty
    array, non-numeric dtype, NaN or infinite values (unless ``allow_nan``).
    """
    arr = np.asarray(data)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise ValueError(f"{name}: expected a numeric array, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise ValueError(
            f"{name}: complex values (dtype {arr.dtype}) are not an image; "
            "save the magnitude or the real part explicitly"
        )
    if arr.ndim != ndim:
        hint = " (a single 2D image was given where a 3D stack is needed)" if arr.ndim == 2 else ""
        raise ValueError(f"{name}: expected a {ndim}D array (z, y, x), got shape {arr.shape}{hint}")
    if arr.size == 0 or min(arr.shape) < min_size:
        raise ValueError(f"{name}: the volume is empty or too small, shape {arr.shape}")
    if not allow_nan and np.issubdtype(arr.dtype, np.floating):
        finite = np.isfinite(arr)
        if not finite.all():
            bad = int(arr.size - np.count_nonzero(finite))
            raise ValueError(f"{name}: contains {bad} NaN or infinite values")
    return arr


def require_3d(shape: Sequence[int], *, name: str, what: str, min_len: int = 2) -> None:
    """One-line ``ValueError`` when a volume of ``shape`` has an axis shorter than ``min_len``
    voxels, so that a 3D computation (``what``) would silently run on a 2D slice."""
    if len(shape) != 3:
        raise ValueError(f"{name}: {what} needs a 3D volume (z, y, x), got shape {tuple(shape)}")
    short = [ax for ax, n in zip("zyx", shape, strict=True) if n < min_len]
    if short:
        raise ValueError(
            f"{name}: {what} needs at least {min_len} voxels along every axis, got shape "
            f"{tuple(int(n) for n in shape)} ({', '.join(short)} too thin; a single slice is 2D)"
        )


def require_pore_and_solid(pore: np.ndarray, *, name: str, what: str) -> None:
    """One-line ``ValueError`` when a pore mask has no pore voxel or no solid voxel: pore
    sizes need walls inside the image (an all-pore volume is one pore wider than the crop,
    its size a property of the crop, not of the material)."""
    n_pore = int(np.count_nonzero(pore))
    if n_pore == 0:
        raise ValueError(f"{name}: no pore voxels; {what} needs pore space")
    if n_pore == pore.size:
        raise ValueError(
            f"{name}: every voxel is pore (no solid); {what} is undefined because no wall "
            "bounds the pore inside the volume (crop a region that contains solid)"
        )


def refuse_all_pore(labels: Any, pore_phases: Sequence[int], *, name: str, what: str) -> None:
    """:func:`require_pore_and_solid`'s all-pore refusal for a chunked input (numpy, Dask or
    Zarr labels): one reduction pass, block by block, before the chunked computation (whose
    capped distance transform would otherwise report the cap as the pore size)."""
    phases = [int(p) for p in pore_phases]
    if isinstance(labels, np.ndarray):
        all_pore = bool(np.isin(labels, phases).all())
    else:
        import dask.array as da

        arr = labels if isinstance(labels, da.Array) else da.from_array(labels, chunks="auto")
        all_pore = bool(da.isin(arr, phases).all().compute())
    if all_pore:
        require_pore_and_solid(np.ones((1,), bool), name=name, what=what)


def labels_from_pore_mask(pore_mask: Any) -> Any:
    """Two-phase labels from a boolean pore mask: ``True`` is pore (phase 0), ``False`` is
    solid, counted as active material (phase 1).

    The same convention as PoreSpy's ``im`` (``True`` marks the void phase), so a mask made
    for PoreSpy gives the same porosity here. A numpy mask gives numpy uint8 labels, a Dask
    mask lazy ones.

    Examples
    --------
    >>> import numpy as np
    >>> labels_from_pore_mask(np.array([True, False, True]))
    array([0, 1, 0], dtype=uint8)
    """
    return (~pore_mask).astype(np.uint8)


def check_labels(data: Any, *, name: str = "labels") -> np.ndarray:
    """Validate a labels volume (phases 0..3, see :class:`Phase`) and return it as uint8.

    A boolean array is read as a pore mask (``True`` = pore, like PoreSpy's ``im``) and
    becomes two-phase labels, see :func:`labels_from_pore_mask`.
    """
    arr = check_volume(data, name=name)
    if arr.dtype == np.bool_:
        return labels_from_pore_mask(arr)
    if not np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.floating) and np.array_equal(arr, np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(
                f"{name}: a labels volume must hold integer phase codes, got {arr.dtype} "
                "grayscale values (segment it first)"
            )
    lo, hi = int(arr.min()), int(arr.max())
    if lo < 0 or hi > 3:
        present = np.unique(arr)
        shown = ", ".join(str(v) for v in present[:8]) + (" ..." if present.size > 8 else "")
        raise ValueError(
            f"{name}: values {shown} are not phase labels 0..3 "
            "(map them, e.g. --labels pore=0,am=85,cbd=170)"
        )
    return arr.astype(np.uint8, copy=False)


@dataclass
class Volume:
    """A 3D array with its voxel size and free-form metadata.

    Attributes
    ----------
    data
        Array (z, y, x); numpy, or a Dask array where a stage states it supports one.
    voxel_size_nm
        (z, y, x) voxel edge lengths in nm, or ``None`` when unknown (stages that need a
        length scale call :meth:`require_voxel_size`).
    metadata
        JSON-serialisable extras (source file, label map, tilt state, ...).
    """

    data: Any
    voxel_size_nm: tuple[float, float, float] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.voxel_size_nm is not None:
            self.voxel_size_nm = parse_voxel_size(self.voxel_size_nm)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def is_labels(self) -> bool:
        """True when the data is an integer volume whose values are phase codes 0..3."""
        d = self.data
        if not np.issubdtype(d.dtype, np.integer):
            return False
        return bool(int(d.min()) >= 0 and int(d.max()) <= 3)

    def require_voxel_size(self, what: str = "this operation") -> tuple[float, float, float]:
        """Return the voxel size or raise a clear error saying it must be given."""
        if self.voxel_size_nm is None:
            src = self.metadata.get("source", "the input")
            raise ValueError(
                f"{src}: voxel size unknown (not in the file metadata) and needed for {what}; "
                "pass --voxel-size-nm Z,Y,X (or one value for cubic voxels)"
            )
        return self.voxel_size_nm

    def physical_size_um(self) -> tuple[float, float, float]:
        """Edge lengths of the whole volume in micrometres (z, y, x)."""
        vs = self.require_voxel_size("physical sizes")
        return tuple(n * v / 1000.0 for n, v in zip(self.shape, vs, strict=True))  # type: ignore[return-value]
