"""OME formats and display metadata: OME-Zarr (NGFF 0.4), OME-TIFF, phase LUTs for label TIFFs.

Public names
------------
- :func:`write_ome_zarr` writes a volume as an OME-Zarr image (NGFF 0.4: Zarr format 2 with
  ``/`` chunk keys, ``multiscales`` with axes ``z, y, x`` of type ``space`` and unit
  ``micrometer``, one ``scale`` per resolution level from the voxel size); a labels volume is
  also written as the image-label ``labels/phases`` with the phase colours and names, so
  OME-Zarr viewers (napari, ``ome_zarr``, Fiji's MoBIE/N5 readers) colour it.
- :func:`read_ome_zarr` reads such a store (ours or any NGFF 0.4/0.5 image) lazily: the
  resolution levels as Dask arrays, the voxel size in nm and the image-labels.
- :func:`is_ome_zarr` tells a NGFF image group from a plain Zarr array.
- :func:`write_ome_tiff` writes an OME-TIFF with ``PhysicalSizeX/Y/Z`` in micrometres.
- :func:`phase_lut` and :func:`labels_imagej_metadata` give the ImageJ LUT and display range
  written into label TIFFs so the phases 0-3 show in their colours in Fiji/ImageJ.
- :data:`PHASE_COLOURS` (phase -> ``#rrggbb``) and :data:`PHASE_NAMES`.

This module is part of the ``io`` leaf: it imports nothing of the package but ``io`` and
:mod:`microstructure.volume`. Writes are atomic like every other writer of the package.

References
----------
Moore, J. et al. (2021). OME-NGFF: a next-generation file format for expanding bioimaging
data-access strategies. Nature Methods 18, 1496-1498. doi:10.1038/s41592-021-01326-w
Goldberg, I. G. et al. (2005). The Open Microscopy Environment (OME) Data Model and XML file.
Genome Biology 6, R47. doi:10.1186/gb-2005-6-5-r47
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.io.tables import atomic_path, write_error
from microstructure.io.units import unit_to_nm
from microstructure.volume import PHASE_NAMES, Volume

__all__ = [
    "PHASE_COLOURS",
    "PHASE_NAMES",
    "NGFF_VERSION",
    "volume_attrs",
    "phase_lut",
    "labels_imagej_metadata",
    "write_ome_zarr",
    "read_ome_zarr",
    "is_ome_zarr",
    "write_ome_tiff",
    "OmeZarrImage",
    "swap_in_store",
]

#: NGFF version written by :func:`write_ome_zarr`
NGFF_VERSION = "0.4"

#: colour of each phase (the same as ``microstructure.plot.PHASE_COLOURS``; a test keeps them
#: equal): 0 pore, 1 active material, 2 carbon-binder domain, 3 nanopore in the CBD
PHASE_COLOURS: dict[int, str] = {0: "#1b1b3a", 1: "#e8c547", 2: "#5c9ead", 3: "#c0392b"}

_AXES = ("z", "y", "x")
#: the group attribute under which our own metadata (stage, phases, voxel size) is kept
OUR_KEY = "microstructure"


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    h = hex_colour.lstrip("#")
    return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))


def volume_attrs(volume: Volume) -> dict[str, Any]:
    """The metadata written with a volume: JSON-safe entries of ``volume.metadata`` plus
    ``voxel_size_nm`` (used by :func:`microstructure.io.write_volume` and the OME writers)."""
    meta = {k: v for k, v in volume.metadata.items() if _json_ok(v)}
    if volume.voxel_size_nm is not None:
        meta["voxel_size_nm"] = list(volume.voxel_size_nm)
    return meta


def _json_ok(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


# ----------------------------------------------------------------------------- label TIFFs
def phase_lut() -> np.ndarray:
    """ImageJ LUT (uint8, shape (3, 256)) showing the phases 0-3 in their colours.

    The LUT is banded: index ``i`` gets the colour of phase ``i // 64``. With the display
    range 0-3 written by :func:`labels_imagej_metadata`, ImageJ maps a pixel value ``v`` of an
    8-bit image to LUT index ``256 v / 4`` (``ByteProcessor.setMinAndMax``) or ``255 v / 3``
    (other readers): both fall in band ``v``, so each phase shows in its colour.
    """
    lut = np.zeros((3, 256), np.uint8)
    for phase, colour in PHASE_COLOURS.items():
        lut[:, 64 * phase : 64 * (phase + 1)] = np.array(_rgb(colour), np.uint8)[:, None]
    return lut


def labels_imagej_metadata() -> dict[str, Any]:
    """ImageJ metadata entries of a phase-labels TIFF: the phase LUT and display range 0-3."""
    return {"LUTs": [phase_lut()], "Ranges": (0.0, 3.0), "min": 0.0, "max": 3.0}


# ----------------------------------------------------------------------------- OME-TIFF
def write_ome_tiff(
    path: str | os.PathLike, volume: Volume, *, compression: str | None = None
) -> Path:
    """Write ``volume`` as an OME-TIFF (axes ZYX, ``PhysicalSizeX/Y/Z`` in micrometres).

    Parameters
    ----------
    path
        Target file, conventionally ``NAME.ome.tif``; written atomically.
    volume
        3D volume (numpy or Dask data); its voxel size in nm becomes the physical pixel size.
    compression
        tifffile compression name (e.g. ``"zlib"``, ``"zstd"``); ``None`` writes uncompressed.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> from microstructure.io import read_volume
    >>> out = Path(tempfile.mkdtemp()) / "stack.ome.tif"
    >>> _ = write_ome_tiff(out, Volume(np.zeros((4, 8, 8), np.uint16), (20.0, 10.0, 10.0)))
    >>> read_volume(out).voxel_size_nm
    (20.0, 10.0, 10.0)
    """
    import tifffile

    target = Path(path)
    if not target.parent.exists():
        raise FileNotFoundError(f"{target.parent}: output folder does not exist")
    arr = np.asarray(volume.data.compute() if hasattr(volume.data, "compute") else volume.data)
    if arr.ndim != 3:
        raise ValueError(f"{target}: OME-TIFF writer expects a 3D array, got shape {arr.shape}")
    if arr.dtype == np.bool_:
        arr = arr.astype(np.uint8)
    meta: dict[str, Any] = {"axes": "ZYX", "Name": str(volume.metadata.get("stage", target.name))}
    if volume.voxel_size_nm is not None:
        for ax, v in zip(_AXES, volume.voxel_size_nm, strict=True):
            meta[f"PhysicalSize{ax.upper()}"] = float(v) / 1000.0
            meta[f"PhysicalSize{ax.upper()}Unit"] = "µm"
    kwargs: dict[str, Any] = {"ome": True, "metadata": meta, "photometric": "minisblack"}
    if compression:
        kwargs["compression"] = compression
    with atomic_path(target) as tmp:
        tifffile.imwrite(tmp, arr, **kwargs)
    return target


# ----------------------------------------------------------------------------- OME-Zarr
def _levels_shapes(shape: tuple[int, ...], levels: int | None, min_size: int) -> int:
    """Number of resolution levels: halve while the largest axis stays >= ``min_size``."""
    if levels is not None:
        if int(levels) < 1:
            raise ValueError(f"levels: need at least 1 resolution level, got {levels}")
        return int(levels)
    n, size = 1, max(shape)
    while size // 2 >= min_size and n < 8:
        size //= 2
        n += 1
    return n


def _downsample(data: Any, *, labels: bool) -> Any:
    """Halve every axis: nearest (every 2nd voxel) for labels, 2x2x2 block mean for images."""
    import dask.array as da

    d = data if isinstance(data, da.Array) else da.from_array(np.asarray(data))
    if labels or min(d.shape) < 2:
        return d[::2, ::2, ::2]
    trimmed = d[tuple(slice(0, s - s % 2) for s in d.shape)]
    mean = da.coarsen(np.mean, trimmed.astype(np.float64), {0: 2, 1: 2, 2: 2})
    if np.issubdtype(d.dtype, np.integer):
        mean = da.round(mean)
    return mean.astype(d.dtype)


def _multiscales(
    name: str, vs_um: tuple[float, float, float], n_levels: int, *, labels: bool
) -> list[dict[str, Any]]:
    datasets = []
    for k in range(n_levels):
        f = 2**k
        transforms: list[dict[str, Any]] = [{"type": "scale", "scale": [v * f for v in vs_um]}]
        if not labels and k:  # block means are centred half a block further along each axis
            shift = [v * (f - 1) / 2 for v in vs_um]
            transforms.append({"type": "translation", "translation": shift})
        datasets.append({"path": str(k), "coordinateTransformations": transforms})
    return [
        {
            "version": NGFF_VERSION,
            "name": name,
            "axes": [{"name": a, "type": "space", "unit": "micrometer"} for a in _AXES],
            "datasets": datasets,
            "type": "nearest" if labels else "mean",
            "metadata": {"method": "every 2nd voxel" if labels else "2x2x2 block mean"},
        }
    ]


def _write_pyramid(
    group: Any, data: Any, vs_um: tuple, n_levels: int, chunks: tuple, *, labels: bool
) -> None:
    import dask.array as da

    level = data if isinstance(data, da.Array) else da.from_array(np.asarray(data))
    for k in range(n_levels):
        ch = tuple(max(1, min(c, s)) for c, s in zip(chunks, level.shape, strict=True))
        arr = group.create_array(
            str(k),
            shape=level.shape,
            dtype=level.dtype,
            chunks=ch,
            chunk_key_encoding={"name": "v2", "separator": "/"},
            dimension_names=None,
        )
        level.rechunk(ch).store(arr, lock=False)
        if k + 1 < n_levels:  # from the stored level: the source graph is computed once
            level = _downsample(da.from_zarr(arr), labels=labels)


def write_ome_zarr(
    path: str | os.PathLike,
    volume: Volume,
    *,
    labels: Volume | np.ndarray | None = None,
    levels: int | None = None,
    chunks: tuple[int, int, int] = (32, 256, 256),
    min_level_size: int = 256,
) -> Path:
    """Write ``volume`` as an OME-Zarr image (NGFF 0.4), with a phase image-label when known.

    Parameters
    ----------
    path
        Target folder, conventionally ``NAME.ome.zarr``. Written into a temporary folder
        beside it, then renamed over it (an interrupted write leaves the old store intact).
    volume
        3D volume (numpy or Dask data; Dask data are written block by block). Its voxel size
        (nm) becomes the ``scale`` of level 0 in micrometres; level ``k`` has ``2**k`` times it.
        A phase-labels volume (integers 0-3) is also written as the image-label ``phases``.
    labels
        A phase-labels volume of the same shape to store as the image-label ``phases`` of a
        grayscale image (e.g. the segmentation of the stack).
    levels
        Number of resolution levels (default: halve until the largest axis is below
        ``min_level_size`` voxels). Images are down-sampled by 2x2x2 block means, labels by
        taking every second voxel.
    chunks
        Chunk shape (z, y, x) in voxels, clipped to the level's shape.
    min_level_size
        Smallest largest-axis size (voxels) of a generated level.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ValueError
        A non-3D volume, or ``labels`` of another shape or with values outside 0-3.

    References
    ----------
    Moore, J. et al. (2021). OME-NGFF. Nature Methods 18, 1496. doi:10.1038/s41592-021-01326-w

    Examples
    --------
    >>> import tempfile
    >>> labels = np.zeros((4, 8, 8), np.uint8)
    >>> labels[:, :, 4:] = 1  # pore | active material
    >>> out = Path(tempfile.mkdtemp()) / "labels.ome.zarr"
    >>> _ = write_ome_zarr(out, Volume(labels, (20.0, 10.0, 10.0)), levels=2)
    >>> img = read_ome_zarr(out)
    >>> img.scales_nm, list(img.labels)
    ([(20.0, 10.0, 10.0), (40.0, 20.0, 20.0)], ['phases'])
    """
    target = Path(path)
    if not target.parent.exists():
        raise FileNotFoundError(f"{target.parent}: output folder does not exist")
    if len(volume.shape) != 3:
        raise ValueError(f"{target}: OME-Zarr writer expects a 3D volume, got {volume.shape}")
    lab = _labels_data(target, volume, labels)
    vs_um = tuple(v / 1000.0 for v in (volume.voxel_size_nm or (1000.0, 1000.0, 1000.0)))
    n = _levels_shapes(tuple(volume.shape), levels, min_level_size)
    attrs = {"name": target.name.split(".")[0], **volume_attrs(volume)}
    if volume.voxel_size_nm is None:
        attrs["voxel_size_unknown"] = True  # scale 1 um is a placeholder, not a measurement
    try:
        swap_in_store(
            target, lambda store: _write_store(store, volume, lab, vs_um, n, chunks, attrs)
        )
    except OSError as exc:
        raise write_error(target, exc) from exc
    return target


def _labels_data(target: Path, volume: Volume, labels: Any) -> Any:
    """The phase labels to store as image-label (None when there are none)."""
    if labels is None:
        data = volume.data
        if not np.issubdtype(data.dtype, np.integer):
            return None
        mid = np.asarray(data[data.shape[0] // 2])  # one slice rules out most grayscale stacks
        if mid.size and (int(mid.min()) < 0 or int(mid.max()) > 3):
            return None
        if hasattr(data, "dask"):  # one pass over a lazy volume
            import dask

            lo, hi = (int(v) for v in dask.compute(data.min(), data.max()))
        else:
            lo, hi = int(data.min()), int(data.max())
        return data if lo >= 0 and hi <= 3 else None
    data = labels.data if isinstance(labels, Volume) else labels
    if tuple(data.shape) != tuple(volume.shape):
        raise ValueError(
            f"{target}: labels shape {tuple(data.shape)} differs from the image {volume.shape}"
        )
    if not np.issubdtype(data.dtype, np.integer) or int(data.min()) < 0 or int(data.max()) > 3:
        raise ValueError(f"{target}: labels must be phase codes 0-3 (integers)")
    return data


def _write_store(
    store: Path, volume: Volume, lab: Any, vs_um: tuple, n: int, chunks: tuple, attrs: dict
) -> None:
    import zarr

    root = zarr.open_group(str(store), mode="w", zarr_format=2)
    name = str(attrs.get("stage") or attrs.get("name") or "image")
    is_labels_image = lab is volume.data
    _write_pyramid(root, volume.data, vs_um, n, chunks, labels=is_labels_image)
    root.attrs.update(
        {"multiscales": _multiscales(name, vs_um, n, labels=is_labels_image), OUR_KEY: attrs}
    )
    if lab is None:
        return
    labels_group = root.create_group("labels")
    labels_group.attrs["labels"] = ["phases"]
    phases = labels_group.create_group("phases")
    _write_pyramid(phases, lab, vs_um, n, chunks, labels=True)
    phases.attrs.update(
        {
            "multiscales": _multiscales("phases", vs_um, n, labels=True),
            "image-label": {
                "version": NGFF_VERSION,
                "colors": [
                    {"label-value": p, "rgba": [*_rgb(c), 255]} for p, c in PHASE_COLOURS.items()
                ],
                "properties": [{"label-value": p, "name": PHASE_NAMES[p]} for p in PHASE_COLOURS],
                "source": {"image": "../../"},
            },
        }
    )


def swap_in_store(target: Path, write: Any) -> None:
    """Run ``write(store)`` on a temporary folder beside ``target``, then rename it over."""
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        store = tmpdir / "store.zarr"
        write(store)
        if target.exists():
            old = target.with_name(f".{target.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(target, old)
            os.replace(store, target)
            shutil.rmtree(old)
        else:
            os.replace(store, target)
    finally:
        _remove_tree(tmpdir)


def _remove_tree(path: Path, *, attempts: int = 40, wait_s: float = 0.05) -> None:
    """Remove a temporary folder, again while it keeps appearing: when a write fails (a full
    disk), chunk writes already handed to the store's threads may still create files after
    the error reached us, and one ``rmtree`` then leaves the folder behind (seen in CI)."""
    for _ in range(attempts):
        shutil.rmtree(path, ignore_errors=True)
        if not path.exists():
            return
        time.sleep(wait_s)


class OmeZarrImage:
    """An OME-Zarr image read by :func:`read_ome_zarr`.

    Attributes
    ----------
    levels
        Resolution levels (Dask arrays, level 0 full resolution).
    voxel_size_nm
        Level-0 voxel size (z, y, x) in nm, or ``None`` when the store gives none.
    scales_nm
        Voxel size of every level in nm.
    attrs
        Our metadata (stage, phases, ...) when the store was written by us, else ``{}``.
    labels
        Image-labels by name: ``{"levels": [...], "colours": {value: "#rrggbb"}}``.
    name
        The multiscale's name.
    """

    def __init__(self, levels: list, scales_nm: list, attrs: dict, labels: dict, name: str):
        self.levels = levels
        self.scales_nm = scales_nm
        self.voxel_size_nm = scales_nm[0] if scales_nm else None
        self.attrs = attrs
        self.labels = labels
        self.name = name


def is_ome_zarr(path: str | os.PathLike) -> bool:
    """True when ``path`` is a Zarr group with NGFF ``multiscales`` metadata (0.4 or 0.5)."""
    p = Path(path)
    for meta in (p / ".zattrs", p / "zarr.json"):
        if meta.is_file():
            try:
                attrs = json.loads(meta.read_text())
            except (OSError, ValueError):
                return False
            attrs = attrs.get("attributes", attrs) if meta.name == "zarr.json" else attrs
            return bool(attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales"))
    return False


def _unit_to_nm(unit: Any) -> float:
    factor = unit_to_nm(unit) if unit else 1e3  # NGFF without unit: we assume micrometres
    if factor is None:
        raise ValueError(f"axis unit {unit!r} is not a length unit")
    return factor


def _read_multiscale(group: Any, where: str) -> tuple[list, list, str]:
    import dask.array as da

    attrs = dict(group.attrs)
    ms = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    if not ms:
        raise ValueError(f"{where}: no NGFF 'multiscales' metadata")
    m = ms[0]
    axes = m.get("axes", [{"name": a} for a in _AXES])
    names = [a.get("name") if isinstance(a, dict) else a for a in axes]
    if [str(n).lower() for n in names[-3:]] != list(_AXES) or any(
        isinstance(a, dict) and a.get("type") not in (None, "space") for a in axes[-3:]
    ):
        raise ValueError(f"{where}: expected spatial axes z, y, x last, got {names}")
    factors = [_unit_to_nm(a.get("unit") if isinstance(a, dict) else None) for a in axes[-3:]]
    levels, scales = [], []
    for ds in m["datasets"]:
        arr = da.from_zarr(group[ds["path"]])
        if arr.ndim > 3:  # leading t / c axes of size 1
            if any(s != 1 for s in arr.shape[:-3]):
                raise ValueError(f"{where}: non-spatial axes of size > 1 {arr.shape}")
            arr = arr.reshape(arr.shape[-3:])
        levels.append(arr)
        scale = [1.0, 1.0, 1.0]
        for tr in ds.get("coordinateTransformations", []):
            if tr.get("type") == "scale":
                scale = [float(s) for s in tr["scale"][-3:]]
        scales.append(tuple(s * f for s, f in zip(scale, factors, strict=True)))
    return levels, scales, str(m.get("name") or "")


def read_ome_zarr(path: str | os.PathLike) -> OmeZarrImage:
    """Read an OME-Zarr image lazily: resolution levels, voxel size and image-labels.

    Parameters
    ----------
    path
        An NGFF 0.4 or 0.5 image group (``multiscales`` with axes ending in ``z, y, x``).

    Returns
    -------
    OmeZarrImage
        Levels as Dask arrays with their voxel sizes in nm (from the ``scale`` transformations
        and the axis units; an axis without unit is taken as micrometres), and the labels.

    Raises
    ------
    ValueError
        One line naming the path: not OME-Zarr, non-spatial or misordered axes, a unit that
        is not a length.
    """
    import zarr

    p = Path(path)
    try:
        root = zarr.open_group(str(p), mode="r")
        levels, scales, name = _read_multiscale(root, str(p))
        attrs = dict(root.attrs).get(OUR_KEY) or {}
        labels: dict[str, Any] = {}
        label_names = dict(root["labels"].attrs).get("labels", []) if "labels" in root else []
        for lname in label_names:
            group = root["labels"][lname]
            lev, _, _ = _read_multiscale(group, f"{p}/labels/{lname}")
            colours = {}
            for c in dict(group.attrs).get("image-label", {}).get("colors", []):
                rgba = c.get("rgba", [0, 0, 0, 255])
                colours[int(c["label-value"])] = "#" + "".join(f"{int(v):02x}" for v in rgba[:3])
            labels[str(lname)] = {"levels": lev, "colours": colours}
    except ValueError as exc:
        raise ValueError(str(exc) if str(exc).startswith(str(p)) else f"{p}: {exc}") from None
    except (KeyError, TypeError, OSError, LookupError) as exc:
        raise ValueError(f"{p}: malformed OME-Zarr ({type(exc).__name__}: {exc})") from None
    return OmeZarrImage(levels, scales, attrs if isinstance(attrs, dict) else {}, labels, name)
