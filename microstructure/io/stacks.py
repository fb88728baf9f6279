"""Reading and writing 3D stacks with their voxel size.

Formats
-------
- multi-page TIFF (``.tif``/``.tiff``, uncompressed or LZW/deflate/zstd/JPEG via
  ``imagecodecs``; a single 2D image reads as a one-slice stack), voxel size from ImageJ
  metadata (XResolution/YResolution tags + ``spacing`` + ``unit``) or OME-XML
  (``PhysicalSizeX/Y/Z`` with units), else from the instrument's own tags (Thermo/FEI,
  Zeiss, Tescan: :mod:`microstructure.io.instrument`, kept in ``metadata["instrument"]``);
- a folder of 2D TIFF slices, natural-sorted (``slice_2.tif`` before ``slice_10.tif``), with
  each slice's instrument metadata (pixel sizes must agree between slices);
- ``.npy`` arrays (no metadata: the voxel size must be given);
- Zarr arrays or groups (``.zarr``): voxel size from our ``voxel_size_nm`` attribute or from
  OME-NGFF ``multiscales`` scale transformations.

Writers keep the scale (ImageJ TIFF with spacing in micrometres, so Fiji and napari show
the right size; Zarr with a ``voxel_size_nm`` attribute) and are atomic: data go to a
temporary file beside the target, which is then renamed over it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import tifffile

from microstructure.io.instrument import combine_slices, tiff_instrument
from microstructure.io.labels import apply_label_map, parse_label_map
from microstructure.io.ome import (
    labels_imagej_metadata,
    swap_in_store,
    volume_attrs,
    write_ome_tiff,
    write_ome_zarr,
)
from microstructure.io.tables import atomic_open, atomic_path, write_error
from microstructure.io.units import unit_to_nm as _unit_nm
from microstructure.volume import Volume, check_volume, parse_voxel_size

__all__ = [
    "read_volume",
    "write_volume",
    "volume_attrs",
    "read_metadata_voxel_size",
    "natural_key",
    "VOXEL_SIZE_RTOL",
    "WRITE_FORMATS",
]

_TIFF_SUFFIXES = (".tif", ".tiff")

#: a given voxel size that differs from the instrument's pixel size by more (relative, in y
#: or x) is refused: one of the two is wrong and every length downstream would be off
VOXEL_SIZE_RTOL = 0.01


def natural_key(name: str) -> list[Any]:
    """Sort key that orders embedded numbers numerically (``s2`` < ``s10``)."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", name)]


# --------------------------------------------------------------------------- metadata


def _tidy(value: float) -> float:
    """Remove the rounding noise of TIFF rational resolutions (37.19999 -> 37.2)."""
    return float(f"{value:.7g}")


def _tiff_attrs(tif: tifffile.TiffFile) -> dict:
    """Our own metadata, stored as JSON in the ImageJ ``info`` property by write_volume."""
    ij = tif.imagej_metadata or {}
    info = ij.get("Info", ij.get("info"))
    if not info:
        return {}
    try:
        attrs = json.loads(info)
    except (TypeError, ValueError):
        return {}
    return attrs if isinstance(attrs, dict) else {}


def _metadata_number(value: Any, tag: str) -> float:
    """``float(value)`` or a one-line ``ValueError`` naming the metadata tag (the caller
    prefixes the file)."""
    try:
        num = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"metadata {tag} = {str(value)[:40]!r} is not a number") from None
    if not math.isfinite(num) or num <= 0:
        raise ValueError(f"metadata {tag} = {num!r} is not a positive length")
    return num


def _ome_voxel_size(xml: str) -> tuple[float | None, float | None, float | None]:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return (None, None, None)
    for el in root.iter():
        if el.tag.endswith("Pixels"):
            out = []
            for ax in ("Z", "Y", "X"):
                size = el.get(f"PhysicalSize{ax}")
                unit = el.get(f"PhysicalSize{ax}Unit", "µm")
                factor = _unit_nm(unit)
                if size is None or factor is None:
                    out.append(None)
                else:
                    out.append(_metadata_number(size, f"OME PhysicalSize{ax}") * factor)
            return (out[0], out[1], out[2])
    return (None, None, None)


def _imagej_voxel_size(tif: tifffile.TiffFile) -> tuple[float | None, float | None, float | None]:
    ij = tif.imagej_metadata or {}
    page = tif.pages.first
    unit = ij.get("unit")
    factor = _unit_nm(unit)
    if factor is None:
        # A TIFF without a usable unit: the resolution tags are in inches or meaningless.
        return (None, None, None)

    def _res(tag: str) -> float | None:
        t = page.tags.get(tag)
        if t is None:
            return None
        try:
            num, den = t.value
        except (TypeError, ValueError):
            raise ValueError(f"metadata {tag} = {t.value!r} is not a rational") from None
        if num == 0:
            return None
        return _tidy(den / num * factor)  # pixels per unit -> nm per pixel

    dy, dx = _res("YResolution"), _res("XResolution")
    dz = ij.get("spacing")
    dz_nm = _tidy(_metadata_number(dz, "ImageJ spacing") * factor) if dz is not None else None
    return (dz_nm, dy, dx)


def read_metadata_voxel_size(
    path: str | os.PathLike,
) -> tuple[float | None, float | None, float | None]:
    """Voxel size (z, y, x) in nm stored in a TIFF's OME or ImageJ metadata (None where absent).

    Raises a one-line ``ValueError`` naming the file and the tag when a size is not a number.
    """
    try:
        with tifffile.TiffFile(path) as tif:
            if tif.is_ome and tif.ome_metadata:
                vs = _ome_voxel_size(tif.ome_metadata)
                if any(v is not None for v in vs):
                    return vs
            if tif.is_imagej:
                return _imagej_voxel_size(tif)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return (None, None, None)


def _metadata_or_given(path: Path, given: Any) -> tuple[float | None, float | None, float | None]:
    """The metadata voxel size; unreadable metadata are an error only when no voxel size is
    given (an explicit ``--voxel-size-nm`` replaces them, with a warning)."""
    try:
        return read_metadata_voxel_size(path)
    except ValueError as exc:
        if given is None:
            raise ValueError(f"{exc}; pass --voxel-size-nm to override") from None
        warnings.warn(f"{exc}; using the given --voxel-size-nm", stacklevel=3)
        return (None, None, None)


def _finish_voxel_size(
    found: tuple[float | None, float | None, float | None],
    given: Any,
    source: str,
) -> tuple[tuple[float, float, float] | None, str]:
    """Combine metadata and a user-given voxel size; returns (voxel size, origin)."""
    if given is not None:
        return parse_voxel_size(given, name="--voxel-size-nm"), "given"
    if all(v is not None and v > 0 for v in found):
        # physical bounds: a metadata value outside them is refused naming the file
        vs = parse_voxel_size(list(found), name=f"{source}: metadata voxel size")
        return vs, "metadata"
    return None, "unknown"


# --------------------------------------------------------------------------- readers


#: tifffile log messages that mean the file is cut short or damaged (it then reads what it can,
#: e.g. one slice of a 96-slice stack, and only logs)
_TIFF_DAMAGE = ("invalid page offset", "corrupted", "truncated", "incomplete")


class _TiffLog(logging.Handler):
    """Collects tifffile's log records while a file is read (instead of printing them)."""

    def __init__(self) -> None:
        super().__init__(level=logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _read_tiff(path: Path, given: Any = None) -> tuple[np.ndarray, tuple, dict, dict | None]:
    log = _TiffLog()
    logger = logging.getLogger("tifffile")
    logger.addHandler(log)
    propagate, logger.propagate = logger.propagate, False
    try:
        data = tifffile.imread(path)
        with tifffile.TiffFile(path) as tif:
            attrs = _tiff_attrs(tif)
            inst = tiff_instrument(tif, path.name)
            expected = int((tif.imagej_metadata or {}).get("images", 0) or 0)
    except Exception as exc:  # tifffile raises many kinds of errors on corrupt files
        raise ValueError(f"{path}: cannot read as TIFF ({exc})") from None
    finally:
        logger.removeHandler(log)
        logger.propagate = propagate
    damage = [m for m in log.messages if any(k in m.lower() for k in _TIFF_DAMAGE)]
    n_images = int(np.prod(np.shape(data)[:-2])) if np.ndim(data) > 2 else 1
    if damage or (expected > 1 and n_images < expected):
        why = damage[0].split("> ", 1)[-1] if damage else f"{n_images} of {expected} images"
        raise ValueError(
            f"{path}: truncated or corrupted TIFF ({why}); its metadata describe "
            f"{expected or 'more'} images"
        )
    for message in log.messages:  # anything else tifffile noticed: one-line warnings
        warnings.warn(f"{path}: {message.split('> ', 1)[-1]}", stacklevel=3)
    found = _metadata_or_given(path, given)
    if "voxel_size_nm" in attrs:  # exact value written by us, beats the rational tags
        try:
            ours = tuple(float(v) for v in attrs["voxel_size_nm"])
        except (TypeError, ValueError):
            ours = ()
        if len(ours) == 3:  # anything else is not ours: keep the tags' value
            found = ours
    if inst and all(v is None for v in found):
        found = _instrument_voxel_size(inst)
    data = np.asarray(data)
    if data.ndim == 2:  # one image (e.g. a single slice or an aligned projection)
        data = data[None]
    return data, found, attrs, inst


def _instrument_voxel_size(inst: dict) -> tuple[float | None, float | None, float | None]:
    """(slice thickness or None, pixel y, pixel x) in nm from an instrument block."""
    px = inst.get("pixel_size_nm")
    if px is None:
        return (None, None, None)
    return (inst.get("slice_thickness_nm"), float(px[0]), float(px[1]))


def _read_tiff_folder(path: Path, given: Any = None) -> tuple[np.ndarray, tuple, dict | None]:
    files = sorted(
        (p for p in path.iterdir() if p.suffix.lower() in _TIFF_SUFFIXES and p.is_file()),
        key=lambda p: natural_key(p.name),
    )
    if not files:
        raise FileNotFoundError(f"{path}: folder holds no .tif/.tiff slices")
    _refuse_non_tiff(path)
    first = None
    per_slice = []
    for i, f in enumerate(files):
        try:
            with tifffile.TiffFile(f) as tif:
                img = tif.asarray()
                per_slice.append(tiff_instrument(tif, f.name))
        except Exception as exc:
            raise ValueError(f"{f}: cannot read as TIFF ({exc})") from None
        if first is None:
            if img.ndim != 2:
                raise ValueError(
                    f"{f}: slices in a folder must be 2D images, got shape {img.shape}"
                )
            first = img
            data = np.empty((len(files),) + first.shape, dtype=first.dtype)
        elif img.shape != first.shape or img.dtype != first.dtype:
            raise ValueError(
                f"{f}: slice shape/dtype {img.shape} {img.dtype} differs from the first slice "
                f"{files[0].name} ({first.shape} {first.dtype})"
            )
        data[i] = img
    inst = combine_slices(per_slice, files)
    _, dy, dx = _metadata_or_given(files[0], given)
    found: tuple = (None, dy, dx)
    if inst and dy is None and dx is None:
        found = _instrument_voxel_size(inst)
    return data, found, inst


def _refuse_non_tiff(path: Path) -> None:
    """One-line ``ValueError`` naming the first file of a slice folder that is not a TIFF
    slice (hidden files and common side files such as notes are allowed)."""
    allowed = {".txt", ".md", ".json", ".xml", ".csv", ".log", ".ini", ".hdr", ".db"}
    for f in sorted(path.iterdir(), key=lambda q: natural_key(q.name)):
        if f.name.startswith(".") or not f.is_file():
            continue
        if f.suffix.lower() not in _TIFF_SUFFIXES and f.suffix.lower() not in allowed:
            raise ValueError(
                f"{f}: not a TIFF slice in the slice folder {path} "
                "(move it out or convert it to .tif)"
            )


def check_given_voxel_size(
    given: tuple[float, float, float], inst: dict | None, source: str
) -> None:
    """One-line ``ValueError`` when a given voxel size disagrees with the instrument's pixel
    size by more than ``VOXEL_SIZE_RTOL`` in y or x (``inst``: the instrument block)."""
    px = (inst or {}).get("pixel_size_nm")
    if px is None:
        return
    for axis, want, got in (("y", px[0], given[1]), ("x", px[1], given[2])):
        if abs(got - want) > VOXEL_SIZE_RTOL * want:
            raise ValueError(
                f"{source}: --voxel-size-nm {axis} = {got:g} nm disagrees with the "
                f"instrument's pixel size {want:g} nm ({inst.get('source')}); give "
                f"--voxel-size-nm Z,{px[0]:g},{px[1]:g} or fix the value"
            )


def _read_zarr(path: Path) -> tuple[Any, tuple, dict]:
    try:
        arr, found, attrs = _read_zarr_node(path)
    except ValueError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise ValueError(f"{path}: malformed Zarr metadata ({exc})") from None
    except (LookupError, TypeError, AttributeError, OSError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else ""
        raise ValueError(
            f"{path}: malformed Zarr store ({type(exc).__name__}: {msg[:120]})"
        ) from None
    return arr, found, attrs


def _read_zarr_node(path: Path) -> tuple[Any, tuple, dict]:
    import zarr

    try:
        node = zarr.open(str(path), mode="r")
    except Exception as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(f"{path}: cannot open as Zarr ({msg[:160]})") from None
    attrs: dict = dict(node.attrs)
    found: tuple = (None, None, None)
    if isinstance(node, zarr.Array):
        arr = node
    else:
        ms = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
        if ms:
            ds = ms[0]["datasets"][0]
            arr = node[ds["path"]]
            axes = ms[0].get("axes", [])
            for tr in ds.get("coordinateTransformations", []):
                if tr.get("type") == "scale":
                    scale = tr["scale"][-3:]
                    units = [a.get("unit") if isinstance(a, dict) else None for a in axes[-3:]]
                    factors = [_unit_nm(u) if u else 1e3 for u in units] or [1e3] * 3
                    found = tuple(
                        float(s) * (f or 1e3) for s, f in zip(scale, factors, strict=False)
                    )
        else:
            names = [k for k, _ in node.arrays()]
            if "data" in names:
                arr = node["data"]
            elif len(names) == 1:
                arr = node[names[0]]
            else:
                raise ValueError(
                    f"{path}: Zarr group holds {len(names)} arrays {names}; "
                    "expected one, one named 'data', or OME-NGFF multiscales"
                )
        attrs = {**attrs, **(attrs.get("microstructure") or {}), **dict(arr.attrs)}
    if "voxel_size_nm" in attrs:
        vs = attrs["voxel_size_nm"]
        found = tuple(_metadata_number(v, "voxel_size_nm attribute") for v in vs)
    if len(found) != 3:
        raise ValueError(f"{path}: voxel size metadata {found} is not (z, y, x)")
    return arr, found, attrs


def read_volume(
    path: str | os.PathLike,
    *,
    voxel_size_nm: Any = None,
    labels: str | Mapping[str, Any] | None = None,
    lazy: bool = False,
) -> Volume:
    """Read a 3D stack and its voxel size.

    Parameters
    ----------
    path
        Multi-page TIFF, folder of 2D TIFF slices, ``.npy`` file, or Zarr store.
    voxel_size_nm
        Overrides the metadata: one number (cubic voxels) or (z, y, x) in nm. When neither
        this nor the file gives a voxel size, ``Volume.voxel_size_nm`` is ``None`` and stages
        that need a length scale ask for it.
    labels
        A label map such as ``"pore=0,am=85,cbd=170"`` translating the file's values to our
        phases (0 pore, 1 AM, 2 CBD, 3 CBD pore); every value present must be mapped.
    lazy
        For Zarr: return the on-disk array (a Dask array) instead of loading it.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        For unreadable files, non-3D data, empty/NaN volumes, or a label map that does not
        match the values present.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or folder")
    suffix = p.suffix.lower()
    attrs: dict = {}
    inst: dict | None = None
    if (
        p.is_dir()
        and suffix != ".zarr"
        and not (p / ".zarray").exists()
        and not (p / "zarr.json").exists()
        and not (p / ".zgroup").exists()
    ):
        data, found, inst = _read_tiff_folder(p, voxel_size_nm)
        fmt = "tiff-folder"
    elif suffix == ".zarr" or p.is_dir():
        data, found, attrs = _read_zarr(p)
        fmt = "zarr"
        if lazy:
            import dask.array as da

            data = da.from_zarr(data)
        else:
            try:
                data = np.asarray(data[...])
            except Exception as exc:  # missing/corrupt chunks raise many kinds of errors
                msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise ValueError(f"{p}: cannot read the Zarr data ({msg[:160]})") from None
    elif suffix in _TIFF_SUFFIXES:
        data, found, attrs, inst = _read_tiff(p, voxel_size_nm)
        fmt = "tiff"
    elif suffix == ".npy":
        try:
            data = np.load(p, allow_pickle=False)
        except Exception as exc:
            raise ValueError(f"{p}: cannot read as .npy ({exc})") from None
        found = (None, None, None)
        fmt = "npy"
    else:
        raise ValueError(
            f"{p}: unsupported format {suffix or '(no suffix)'}; "
            "use .tif/.tiff, a folder of TIFF slices, .npy or .zarr"
        )

    if not lazy or fmt != "zarr":
        data = check_volume(data, name=str(p))
    else:  # lazy: the values are not read, but the dtype and shape are known
        if data.ndim != 3 or data.size == 0:
            raise ValueError(f"{p}: expected a non-empty 3D array (z, y, x), got {data.shape}")
        check_volume(np.zeros((1, 1, 1), dtype=data.dtype), name=str(p))
    vs, origin = _finish_voxel_size(found, voxel_size_nm, str(p))
    if origin == "given":
        check_given_voxel_size(vs, inst, str(p))  # type: ignore[arg-type]
    elif origin == "metadata" and inst is not None and found == _instrument_voxel_size(inst):
        origin = "instrument"
    metadata: dict[str, Any] = {"source": str(p), "format": fmt, "voxel_size_origin": origin}
    if inst is not None:
        metadata["instrument"] = inst
        if inst.get("instrument_tilt_correction"):
            metadata["tilt_corrected"] = True  # the instrument stretched the image itself
    if vs is None and found[1] is not None and found[2] is not None:
        # y and x known (instrument pixel size), z not: say so, do not guess
        metadata["pixel_size_nm"] = [float(found[1]), float(found[2])]
        metadata["voxel_size_origin"] = "unknown z (y, x from metadata)"
    if origin == "given" and all(v is not None for v in found):
        meta_vs = tuple(float(v) for v in found)  # type: ignore[arg-type]
        if not np.allclose(meta_vs, vs, rtol=1e-3):
            warnings.warn(
                f"{p}: --voxel-size-nm {vs} overrides the file's metadata {meta_vs}",
                stacklevel=2,
            )
    for key in ("tilt_corrected", "phases", "label_map", "instrument"):
        if key in attrs:
            metadata[key] = attrs[key]
    if labels is not None:
        mapping = parse_label_map(labels) if isinstance(labels, str) else dict(labels)
        data = apply_label_map(np.asarray(data), mapping, source=str(p))
        metadata["label_map"] = {k: list(v) for k, v in _as_lists(mapping).items()}
    return Volume(data=data, voxel_size_nm=vs, metadata=metadata)


def _as_lists(mapping: Mapping[str, Any]) -> dict[str, list]:
    out = {}
    for k, v in mapping.items():
        out[k] = [int(x) for x in (v if isinstance(v, list | tuple) else [v])]
    return out


# --------------------------------------------------------------------------- writers

_IMAGEJ_DTYPES = (np.uint8, np.uint16, np.float32)


def _imagej_compatible(data: np.ndarray) -> np.ndarray:
    """Convert to a dtype ImageJ hyperstacks support (uint8, uint16, float32), losslessly
    where possible."""
    if data.dtype == np.bool_:
        return data.astype(np.uint8)
    if data.dtype in _IMAGEJ_DTYPES:
        return data
    if np.issubdtype(data.dtype, np.integer):
        lo, hi = (int(data.min()), int(data.max())) if data.size else (0, 0)
        if lo >= 0 and hi <= 255:
            return data.astype(np.uint8)
        if lo >= 0 and hi <= 65535:
            return data.astype(np.uint16)
    return data.astype(np.float32)


#: ``write_volume(format=...)`` names and the suffixes that select them by default
WRITE_FORMATS = {
    "tiff": (".tif", ".tiff"),
    "ome-tiff": (".ome.tif", ".ome.tiff"),
    "zarr": (".zarr",),
    "ome-zarr": (".ome.zarr",),
    "npy": (".npy",),
}


def _write_format(target: Path, fmt: str | None) -> str:
    """The format named by ``fmt`` or, when ``None``, by the target's (double) suffix."""
    if fmt is not None:
        if fmt not in WRITE_FORMATS:
            raise ValueError(
                f"{target}: format {fmt!r} unknown; use one of {', '.join(WRITE_FORMATS)}"
            )
        return fmt
    name = target.name.lower()
    for key in ("ome-tiff", "tiff", "npy"):
        if name.endswith(WRITE_FORMATS[key]):
            return key
    if name.endswith(".zarr"):  # .zarr and .ome.zarr: an OME-Zarr image (format="zarr": plain)
        return "ome-zarr"
    raise ValueError(
        f"{target}: unsupported output format {target.suffix!r}; use .tif, .ome.tif, .zarr, "
        ".ome.zarr or .npy (or format=...)"
    )


def write_volume(
    path: str | os.PathLike,
    volume: Volume,
    *,
    compression: str | None = None,
    format: str | None = None,
) -> Path:
    """Write a volume atomically, keeping its voxel size.

    Parameters
    ----------
    path
        Target file or store.
    volume
        The volume (numpy or, for Zarr formats, Dask data written block by block).
    compression
        TIFF compression (``"zlib"``, ``"zstd"``, ...); ``None`` writes uncompressed.
    format
        One of :data:`WRITE_FORMATS`; default from the suffix (``.ome.tif`` before ``.tif``;
        ``.zarr`` and ``.ome.zarr`` both write OME-Zarr, plain Zarr only with
        ``format="zarr"``):

        - ``"tiff"``: an ImageJ hyperstack (uint8, uint16 or float32; bool and small integers
          stored losslessly as uint8/uint16, other types as float32) with the voxel size as
          resolution and ``spacing`` in micrometres, our metadata as JSON in the ImageJ
          ``info`` property; a phase-labels volume (integers 0-3) gets the phase LUT and the
          display range 0-3 (:func:`microstructure.io.ome.labels_imagej_metadata`) so Fiji
          shows the phases in colour;
        - ``"ome-tiff"``: :func:`microstructure.io.ome.write_ome_tiff` (PhysicalSize in um);
        - ``"zarr"``: a plain chunked array with attribute ``voxel_size_nm``;
        - ``"ome-zarr"``: :func:`microstructure.io.ome.write_ome_zarr` (NGFF 0.4 multiscales,
          axes z, y, x in micrometres, labels as image-label ``phases``);
        - ``"npy"``: the raw array (no voxel size).

    Returns
    -------
    Path
        ``path``.

    Notes
    -----
    The data go to a temporary file (or folder) beside the target that is then renamed over
    it, so an interrupted write never leaves a truncated file.
    """
    target = Path(path)
    if not target.parent.exists():
        raise FileNotFoundError(f"{target.parent}: output folder does not exist")
    fmt = _write_format(target, format)
    if fmt == "ome-zarr":
        return write_ome_zarr(target, volume)
    if fmt == "ome-tiff":
        return write_ome_tiff(target, volume, compression=compression)
    data = volume.data
    if not isinstance(data, np.ndarray) and hasattr(data, "compute") and fmt != "zarr":
        data = data.compute()
    meta = volume_attrs(volume)
    if fmt == "tiff":
        _write_imagej_tiff(target, np.asarray(data), volume.voxel_size_nm, meta, compression)
    elif fmt == "zarr":
        try:
            _write_zarr_atomic(target, data, meta)
        except OSError as exc:
            raise write_error(target, exc) from exc
    else:
        with atomic_open(target, "wb") as fh:
            np.save(fh, np.asarray(data), allow_pickle=False)
    return target


def _write_imagej_tiff(
    target: Path, data: np.ndarray, vs: Any, meta: dict, compression: str | None
) -> None:
    """An ImageJ hyperstack with scale, our metadata and (for phase labels) the phase LUT."""
    arr = _imagej_compatible(data)
    if arr.ndim != 3:
        raise ValueError(f"{target}: write_volume expects a 3D array, got shape {arr.shape}")
    kwargs: dict[str, Any] = {
        "imagej": True,
        "metadata": {"axes": "ZYX", "unit": "um", "Info": json.dumps(meta)},
    }
    if vs is not None:
        vz, vy, vx = (v / 1000.0 for v in vs)
        kwargs["resolution"] = (1.0 / vx, 1.0 / vy)
        kwargs["metadata"]["spacing"] = vz
    is_labels = np.issubdtype(data.dtype, np.integer) and data.size and int(data.max()) <= 3
    if is_labels and int(data.min()) >= 0:
        kwargs["metadata"].update(labels_imagej_metadata())
    if compression:
        kwargs["compression"] = compression
    with atomic_path(target) as tmp:
        tifffile.imwrite(tmp, arr, **kwargs)


def _write_zarr_atomic(target: Path, data: Any, meta: dict[str, Any]) -> None:
    """Write a plain Zarr array into a temporary folder beside ``target``, then swap it in."""
    import zarr

    def write(store: Path) -> None:
        if hasattr(data, "to_zarr"):
            data.to_zarr(str(store))
            arr = zarr.open_array(str(store), mode="r+")
        else:
            d = np.asarray(data)
            chunks = tuple(min(s, 128) for s in d.shape)
            arr = zarr.create_array(str(store), shape=d.shape, dtype=d.dtype, chunks=chunks)
            arr[...] = d
        arr.attrs.update(meta)

    swap_in_store(target, write)
