"""Synthetic, known-answer mercury porosimetry exports in the layouts of the instrument
software (Micromeritics AutoPore report text, Thermo Pascal 140/440 + SOLID text with
decimal commas, Quantachrome PoreMaster text, generic CSV). All numbers come from one
analytic bimodal curve, so every layout must give the same D50 and intruded volume.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from microstructure.porosimetry.washburn import washburn_diameter_nm

PSI_MPA = 0.00689475729
#: the analytic curve: total intruded volume (mm3/g) and two log-normal modes
TOTAL_MM3_PER_G = 46.83
MODES = ((400.0, 0.5, 0.6), (100.0, 0.45, 0.4))  # (median nm, sigma ln, weight)
#: share of the intruded volume still in the sample after extrusion
ENTRAPPED = 0.5
SAMPLE_MASS_G = 1.858


def _phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def cumulative_mm3_per_g(pressure_mpa: np.ndarray) -> np.ndarray:
    """Analytic cumulative intruded volume at each pressure (pores wider than D(P))."""
    d = washburn_diameter_nm(np.asarray(pressure_mpa, float))
    frac = sum(w * (1.0 - np.vectorize(_phi)((np.log(d) - math.log(m)) / s)) for m, s, w in MODES)
    return TOTAL_MM3_PER_G * np.asarray(frac)


def pressures_mpa(lo: float = 0.1, hi: float = 400.0, n: int = 60) -> np.ndarray:
    return np.geomspace(lo, hi, n)


def extrusion(pressure_hi_mpa: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A decreasing-pressure branch that ends with ``ENTRAPPED`` of the volume inside."""
    p = pressure_hi_mpa[::-1]
    v_top = cumulative_mm3_per_g(p[:1])[0]
    v = v_top * (ENTRAPPED + (1 - ENTRAPPED) * cumulative_mm3_per_g(p) / v_top)
    return p, v


def write_autopore(path: Path) -> Path:
    """Micromeritics AutoPore report-style text: header block, summary, two-line titles,
    one intrusion table (psia, um, mL/g cumulative and incremental, m2/g) and an
    extrusion table."""
    p = pressures_mpa(0.0035, 400.0, 80)
    v = cumulative_mm3_per_g(p) / 1000.0
    lines = [
        "Micromeritics Instrument Corporation",
        "AutoPore V 9620 V2.03.00",
        "Sample: synthetic NMC622 electrode (generated for tests)",
        "Operator: test",
        f"Sample Weight: {SAMPLE_MASS_G:.4f} g",
        "Penetrometer: 07-0861 (3) 5 Bulb, 0.412 Stem, Powder",
        "Advancing Contact Angle: 140.000 degrees",
        "Hg Surface Tension: 485.000 dynes/cm",
        "",
        "Intrusion Data Summary",
        f"Total Intrusion Volume = {v.max():.4f} mL/g",
        "Bulk Density at 0.51 psia = 3.4800 g/mL",
        "",
        "Tabular Report - Intrusion",
        "Pressure      Pore Diameter    Cumulative Intrusion    Incremental Intrusion    Cumulative Pore Area",  # noqa: E501
        "(psia)        (um)             (mL/g)                  (mL/g)                   (m2/g)",
    ]
    d = washburn_diameter_nm(p) / 1000
    inc = np.diff(v, prepend=0.0)
    for a, b, c, e in zip(p / PSI_MPA, d, v, inc, strict=True):
        lines.append(f"{a:12.3f}  {b:14.4f}  {c:20.6f}  {e:22.6f}  {0.0:20.3f}")
    pe, ve = extrusion(p[p > 0.1])
    lines += [
        "",
        "Tabular Report - Extrusion",
        "Pressure      Pore Diameter    Cumulative Intrusion    Incremental Intrusion    Cumulative Pore Area",  # noqa: E501
        "(psia)        (um)             (mL/g)                  (mL/g)                   (m2/g)",
    ]
    for a, c in zip(pe / PSI_MPA, ve / 1000, strict=True):
        lines.append(f"{a:12.3f}  {1.0:14.4f}  {c:20.6f}  {0.0:22.6f}  {0.0:20.3f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_pascal(path: Path, *, absolute: bool = False) -> Path:
    """Thermo Pascal 140 + 440 / SOLID style: tab-separated, decimal commas, a low-pressure
    run (0.01-0.4 MPa) and a high-pressure run (0.1-400 MPa, intrusion then extrusion,
    volumes from zero), sample mass and bulk volume in the header."""
    unit = "mm³" if absolute else "mm³/g"
    scale = SAMPLE_MASS_G if absolute else 1.0
    lines = [
        "SOLID - Solver of Intrusion Data, ver. 1.2.1 (synthetic export for tests)",
        "Instrument: Pascal 140 + Pascal 440 (Thermo Fisher Scientific)",
        f"Sample mass [g]:\t{SAMPLE_MASS_G:.4f}".replace(".", ","),
        "Bulk volume [mm³]:\t533,6",
        "",
        "Pascal 140 - low pressure run",
        f"Pressure [MPa]\tCumulative volume [{unit}]\tRadius [µm]",
    ]
    pl = pressures_mpa(0.01, 0.4, 15)
    vl = cumulative_mm3_per_g(pl)
    for a, b in zip(pl, vl, strict=True):
        r = washburn_diameter_nm(a) / 2000
        lines.append(f"{a:.5f}\t{b * scale:.5f}\t{r:.4f}".replace(".", ","))
    ph = pressures_mpa(0.1, 400.0, 50)
    vh = cumulative_mm3_per_g(ph) - cumulative_mm3_per_g(ph[:1])[0]
    pe, ve = extrusion(ph)
    ve = ve - cumulative_mm3_per_g(ph[:1])[0]
    lines += [
        "",
        "Pascal 440 - high pressure run",
        f"Pressure [MPa]\tCumulative volume [{unit}]\tRadius [µm]",
    ]  # noqa: E501
    for a, b in zip(np.concatenate([ph, pe[1:]]), np.concatenate([vh, ve[1:]]), strict=True):
        r = washburn_diameter_nm(a) / 2000
        lines.append(f"{a:.5f}\t{b * scale:.5f}\t{r:.4f}".replace(".", ","))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_poremaster(path: Path) -> Path:
    """Quantachrome PoreMaster style: header, ``Low Pressure`` and ``High Pressure``
    sections in PSI with cc/g cumulative volumes and pore diameters in um."""
    lines = [
        "Quantachrome Instruments  PoreMaster for Windows(R)  Version 8.01",
        "Sample ID: synthetic electrode (generated for tests)",
        f"Sample Weight   {SAMPLE_MASS_G:.4f} g",
        "Mercury Contact Angle  140.0 degrees",
        "",
        "Low Pressure Intrusion",
        "Pressure (PSI)    Pore Diameter (um)    Cumulative Volume (cc/g)",
    ]
    pl = pressures_mpa(0.01, 0.3, 12)
    for a in pl:
        lines.append(
            f"{a / PSI_MPA:12.4f}  {washburn_diameter_nm(a) / 1000:14.4f}  "
            f"{cumulative_mm3_per_g(a) / 1000:14.6f}"
        )
    lines += [
        "",
        "High Pressure Intrusion",
        "Pressure (PSI)    Pore Diameter (um)    Cumulative Volume (cc/g)",
    ]  # noqa: E501
    ph = pressures_mpa(0.2, 400.0, 40)
    v0 = cumulative_mm3_per_g(ph[:1])[0]
    for a in ph:
        lines.append(
            f"{a / PSI_MPA:12.4f}  {washburn_diameter_nm(a) / 1000:14.4f}  "
            f"{(cumulative_mm3_per_g(a) - v0) / 1000:14.6f}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
