"""Instrument metadata of FIB/SEM images: pixel size, stage tilt, beam voltage, detector.

Read from the TIFF tags the instruments write (parsed by tifffile):

- Thermo Fisher / FEI (``FEI_HELIOS`` tag 34682, ``FEI_SFEG`` tag 34680): ``[Scan]``
  ``PixelWidth``/``PixelHeight`` (m), ``[Stage] StageT`` (rad), ``[Beam] HV`` (V),
  ``[Detectors] Name``/``Mode``, ``[System] Type``/``SystemType``, and the instrument's own
  image tilt correction ``[EBeam] TiltCorrectionIsOn``/``TiltCorrectionAngle`` (rad);
- Zeiss (``CZ_SEM`` tag 34118): ``ap_image_pixel_size``, ``ap_stage_at_t``, ``ap_actualkv``
  (or ``ap_manualkv``), ``dp_detector_channel``/``dp_detector_type``, and a slice thickness
  when Atlas 3D writes one (any entry whose name holds "slice" and "thick");
- Tescan: the INI-like text block (``[MAIN]`` with ``PixelSizeX``/``PixelSizeY`` in m, ``HV``
  in V, ``StageTilt`` in deg, ``Detector``) that Tescan writes into its own tag (50431) or the
  ImageDescription; tifffile does not parse it, so it is read here from any text tag.

The result is the dict stored as ``Volume.metadata["instrument"]``: ``vendor``, ``model``,
``pixel_size_nm`` (y, x), ``stage_tilt_deg``, ``beam_kv``, ``detector``,
``slice_thickness_nm`` (when known), ``imaging_angle_deg`` (see below),
``instrument_tilt_correction`` and ``source`` (file and tag).

Imaging angle of a cross-section
--------------------------------
A FIB slice-and-view face is milled by the ion beam grazing it, so the face contains the
ion-beam direction whatever the stage tilt. The electron beam therefore views the face under
the angle between the two columns (52 deg on Thermo/FEI DualBeams, 54 deg on Zeiss
Crossbeams, 55 deg on Tescan FIB-SEMs), and heights on the face appear shortened by the sine
of that angle. The logged stage tilt does not enter: it only decides whether the ion beam is
normal to the sample surface (tilt 52 deg, or tilt plus a pre-tilted holder; the Helios
slices in the validation data log 0.279 rad = 16 deg with a pre-tilt field of 0, i.e. a
pre-tilted holder not entered in the software). ``imaging_angle_deg`` is therefore the column
angle of a recognised dual-beam instrument, and absent for single-beam SEMs (no milled face).
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import tifffile

__all__ = [
    "COLUMN_ANGLE_DEG",
    "tiff_instrument",
    "combine_slices",
    "instrument_summary",
]

#: angle between the electron and ion columns of dual-beam instruments, deg
COLUMN_ANGLE_DEG = {"Thermo Fisher/FEI": 52.0, "Zeiss": 54.0, "Tescan": 55.0}

#: relative disagreement of pixel sizes between slices of one folder that is refused
PIXEL_SIZE_RTOL = 1e-3


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _clean(out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in out.items() if v is not None}


# --------------------------------------------------------------------------- Thermo/FEI


def _fei(tif: tifffile.TiffFile, name: str) -> dict[str, Any] | None:
    meta = tif.fei_metadata
    if not meta:
        return None
    tags = tif.pages.first.tags
    found = [t for code, t in ((34682, "FEI_HELIOS"), (34680, "FEI_SFEG")) if tags.valueof(code)]
    scan = meta.get("Scan") or meta.get("EScan") or {}
    pw, ph = _num(scan.get("PixelWidth")), _num(scan.get("PixelHeight"))
    pixel = None
    if pw and ph:
        pixel = (round(ph * 1e9, 6), round(pw * 1e9, 6))
    elif pw:
        pixel = (round(pw * 1e9, 6), round(pw * 1e9, 6))
    stage = meta.get("Stage", {})
    tilt = _num(stage.get("StageT", meta.get("EBeam", {}).get("StageTa")))
    hv = _num(meta.get("Beam", {}).get("HV", meta.get("EBeam", {}).get("HV")))
    det = meta.get("Detectors", {})
    system = meta.get("System", {})
    ebeam = meta.get("EBeam", {})
    corr_on = str(ebeam.get("TiltCorrectionIsOn", "")).lower() in ("yes", "true", "on")
    corr_angle = _num(ebeam.get("TiltCorrectionAngle")) or 0.0
    dual = str(system.get("Type", "")).lower() == "dualbeam"
    thick = _search_thickness(meta)
    return _clean(
        {
            "vendor": "Thermo Fisher/FEI",
            "model": system.get("SystemType") or None,
            "pixel_size_nm": pixel,
            "stage_tilt_deg": None if tilt is None else round(math.degrees(tilt), 4),
            "beam_kv": None if hv is None else hv / 1000.0,
            "detector": det.get("Name") or None,
            "detector_mode": det.get("Mode") or None,
            "slice_thickness_nm": thick,
            "imaging_angle_deg": COLUMN_ANGLE_DEG["Thermo Fisher/FEI"] if dual else None,
            "instrument_tilt_correction": bool(corr_on and corr_angle != 0.0),
            "source": f"{name}: {'/'.join(found) or 'FEI'} tag",
        }
    )


def _search_thickness(meta: dict[str, Any]) -> float | None:
    """A slice thickness (m -> nm) logged in any section of FEI metadata."""
    for section in meta.values():
        if isinstance(section, dict):
            for key, value in section.items():
                if re.search(r"slice.*thick", str(key), re.I) and _num(value):
                    return round(float(value) * 1e9, 6)
    return None


# --------------------------------------------------------------------------- Zeiss

_ZEISS_TO_NM = {"nm": 1.0, "µm": 1e3, "um": 1e3, "μm": 1e3, "pm": 1e-3, "mm": 1e6}


def _zeiss_length(entry: Any) -> float | None:
    if not isinstance(entry, tuple) or len(entry) < 2 or _num(entry[1]) is None:
        return None
    unit = entry[2] if len(entry) > 2 else "nm"
    factor = _ZEISS_TO_NM.get(str(unit).strip())
    return None if factor is None else round(float(entry[1]) * factor, 6)


def _zeiss_value(sem: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        entry = sem.get(key)
        if isinstance(entry, tuple) and len(entry) >= 2:
            return entry[1]
    return None


def _zeiss(tif: tifffile.TiffFile, name: str) -> dict[str, Any] | None:
    sem = tif.sem_metadata
    if not sem:
        return None
    size = _zeiss_length(sem.get("ap_image_pixel_size"))
    tilt = _num(_zeiss_value(sem, "ap_stage_at_t", "ap_stage_goto_t"))
    kv = _num(_zeiss_value(sem, "ap_actualkv", "ap_manualkv"))
    det = _zeiss_value(sem, "dp_detector_channel", "dp_detector_type", "dp_detector")
    thick = None
    for key, entry in sem.items():
        label = f"{key} {entry[0] if isinstance(entry, tuple) and entry else ''}"
        if re.search(r"slice.*thick", label, re.I):
            thick = _zeiss_length(entry) or thick
    fib = any(str(k).startswith(("ap_fib", "dp_fib")) for k in sem)
    return _clean(
        {
            "vendor": "Zeiss",
            "model": _zeiss_value(sem, "sv_serial_number", "sv_version") or None,
            "pixel_size_nm": None if size is None else (size, size),
            "stage_tilt_deg": tilt,
            "beam_kv": kv,
            "detector": None if det is None else str(det),
            "slice_thickness_nm": thick,
            "imaging_angle_deg": COLUMN_ANGLE_DEG["Zeiss"] if fib else None,
            "source": f"{name}: CZ_SEM tag",
        }
    )


# --------------------------------------------------------------------------- Tescan


def _ini_sections(text: str) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    section = ""
    for line in text.splitlines():
        line = line.strip().strip("\x00")
        m = re.fullmatch(r"\[(\w+)\]", line)
        if m:
            section = m.group(1).upper()
            out.setdefault(section, {})
        elif "=" in line and section:
            key, value = line.split("=", 1)
            out[section][key.strip()] = value.strip()
    return out


def _tescan(tif: tifffile.TiffFile, name: str) -> dict[str, Any] | None:
    for tag in tif.pages.first.tags.values():
        value = tag.value
        if isinstance(value, bytes):
            value = value.decode("latin-1", "replace")
        if not isinstance(value, str) or "[MAIN]" not in value:
            continue
        ini = _ini_sections(value)
        main = ini.get("MAIN", {})
        # the electron column's values first (a [FIB] section has its own HV)
        order = ["SEM", "MAIN"] + [k for k in ini if k not in ("SEM", "MAIN", "FIB")]
        flat = {k: v for sec in reversed(order) for k, v in ini.get(sec, {}).items()}
        px, py = _num(main.get("PixelSizeX")), _num(main.get("PixelSizeY"))
        pixel = None
        if px:
            pixel = (round((py or px) * 1e9, 6), round(px * 1e9, 6))
        hv = _num(flat.get("HV"))
        thick = next(
            (_num(v) for k, v in flat.items() if re.search(r"slice.*thick", k, re.I) and _num(v)),
            None,
        )
        fib = "FIB" in ini or any(k.upper().startswith("FIB") for k in flat)
        return _clean(
            {
                "vendor": "Tescan",
                "model": main.get("Device") or None,
                "pixel_size_nm": pixel,
                "stage_tilt_deg": _num(flat.get("StageTilt")),
                "beam_kv": None if hv is None else hv / 1000.0,
                "detector": flat.get("Detector") or None,
                "slice_thickness_nm": None if thick is None else round(thick * 1e9, 6),
                "imaging_angle_deg": COLUMN_ANGLE_DEG["Tescan"] if fib else None,
                "source": f"{name}: {tag.name} tag ([MAIN] header)",
            }
        )
    return None


# --------------------------------------------------------------------------- public


def tiff_instrument(tif: tifffile.TiffFile, name: str) -> dict[str, Any] | None:
    """The instrument metadata of an open TIFF (None when no known vendor tag is there)."""
    for reader in (_fei, _zeiss, _tescan):
        try:
            found = reader(tif, name)
        except (TypeError, ValueError, KeyError, AttributeError):
            found = None  # a damaged vendor tag: read the image, skip its metadata
        if found:
            return found
    return None


def combine_slices(per_slice: list[dict[str, Any] | None], files: list[Path]) -> dict | None:
    """The instrument metadata of a folder of slices from each slice's own.

    Pixel sizes must agree between slices (relative ``PIXEL_SIZE_RTOL``) or a one-line
    ``ValueError`` names the two files. A slice thickness logged per slice is kept when all
    agree; without it, slice positions logged per slice (``slice_position_nm``) give it as
    the median step between consecutive slices.
    """
    known = [(m, f) for m, f in zip(per_slice, files, strict=True) if m]
    if not known:
        return None
    first, f0 = known[0]
    out = dict(first)
    tag = first["source"].split(": ", 1)[-1]
    out["source"] = f"{tag} of {len(known)} slices ({files[0].name} .. {files[-1].name})"
    out["n_slices_with_metadata"] = len(known)
    ref = first.get("pixel_size_nm")
    for meta, f in known[1:]:
        px = meta.get("pixel_size_nm")
        if ref is None or px is None:
            continue
        if any(abs(a - b) > PIXEL_SIZE_RTOL * abs(b) for a, b in zip(px, ref, strict=True)):
            raise ValueError(
                f"{f}: pixel size {tuple(px)} nm disagrees with {f0.name} ({tuple(ref)} nm); "
                "the slices are not one acquisition"
            )
    thick = {m.get("slice_thickness_nm") for m, _ in known} - {None}
    if len(thick) > 1:
        out.pop("slice_thickness_nm", None)
        out["slice_thickness_note"] = f"slices log different thicknesses {sorted(thick)}"
    positions = [m.get("slice_position_nm") for m, _ in known]
    if "slice_thickness_nm" not in out and len(positions) > 1 and None not in positions:
        steps = sorted(abs(b - a) for a, b in zip(positions[:-1], positions[1:], strict=True))
        out["slice_thickness_nm"] = round(float(steps[len(steps) // 2]), 6)
        out["slice_thickness_origin"] = "median step of the logged slice positions"
    out.pop("slice_position_nm", None)
    corrected = {bool(m.get("instrument_tilt_correction")) for m, _ in known}
    out["instrument_tilt_correction"] = corrected == {True}
    if len(corrected) > 1:
        out["instrument_tilt_correction_note"] = "on in some slices only"
    return out


def instrument_summary(inst: dict[str, Any]) -> list[str]:
    """Human-readable lines of an instrument block (for ``microstructure info``)."""
    lines = [f"instrument: {inst.get('vendor', '?')} {inst.get('model', '')}".rstrip()]
    lines.append(f"  from: {inst.get('source', '?')}")
    if "pixel_size_nm" in inst:
        y, x = inst["pixel_size_nm"]
        lines.append(f"  pixel size (y, x): {y:g}, {x:g} nm")
    if "stage_tilt_deg" in inst:
        lines.append(f"  stage tilt: {inst['stage_tilt_deg']:.3g} deg")
    if "imaging_angle_deg" in inst:
        lines.append(
            f"  cross-section imaging angle: {inst['imaging_angle_deg']:g} deg (column angle)"
        )
    if "beam_kv" in inst:
        lines.append(f"  beam: {inst['beam_kv']:g} kV")
    if "detector" in inst:
        mode = f" ({inst['detector_mode']})" if "detector_mode" in inst else ""
        lines.append(f"  detector: {inst['detector']}{mode}")
    thick = inst.get("slice_thickness_nm")
    lines.append(f"  slice thickness: {thick:g} nm" if thick else "  slice thickness: not logged")
    if inst.get("instrument_tilt_correction"):
        lines.append("  the instrument's own tilt correction was on")
    return lines
