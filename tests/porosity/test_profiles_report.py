"""Profiles along the thickness, the combined report and its text."""

from __future__ import annotations

import json

import numpy as np
import pytest

from microstructure.porosity import (
    format_porosity_report,
    phase_fractions,
    porosity_profile,
    porosity_report,
    total_porosity,
)


def _graded() -> np.ndarray:
    """Porosity grows linearly with y: row y has y of 10 voxels in x as pore."""
    labels = np.ones((4, 10, 10), dtype=np.uint8)
    for y in range(10):
        labels[:, y, :y] = 0
    labels[:, :, 9] = 2  # a CBD column (x = 9), never pore
    return labels


def test_profile_values_and_positions():
    labels = _graded()
    prof = porosity_profile(labels, thickness_axis="y", voxel_size_nm=(50, 200, 50))
    assert prof["slice_index"] == list(range(10))
    assert prof["porosity"] == pytest.approx([min(y, 9) / 10 for y in range(10)])
    assert prof["cbd"] == pytest.approx([0.1] * 10)
    assert prof["depth_um"] == pytest.approx([0.1 + 0.2 * k for k in range(10)])
    # mean of slices = total porosity
    assert np.mean(prof["porosity"]) == pytest.approx(total_porosity(labels))
    # top at the end: rows run from the last index
    rev = porosity_profile(labels, thickness_axis="y", top_at=-1)
    assert rev["slice_index"][0] == 9 and rev["porosity"] == prof["porosity"][::-1]
    assert "depth_um" not in rev
    # along x the pore count per column
    px = porosity_profile(labels, thickness_axis="x")
    assert px["porosity"][0] == pytest.approx(9 / 10)


def test_profile_with_nanoporosity():
    labels = np.full((2, 3, 4), 2, dtype=np.uint8)
    prof = porosity_profile(labels, thickness_axis="z", cbd_nanoporosity=0.5)
    assert prof["porosity"] == pytest.approx([0.5, 0.5])


def test_report_is_json_and_consistent():
    rng = np.random.default_rng(1)
    labels = rng.choice(4, size=(20, 24, 28), p=[0.3, 0.5, 0.15, 0.05]).astype(np.uint8)
    rep = porosity_report(
        labels,
        voxel_size_nm=(30.0, 37.2, 37.2),
        densities_g_per_cm3={"am": 4.76, "cbd": 1.935, "pore": 0},
        cbd_nanoporosity=0.3,
    )
    json.dumps(rep)
    fr = phase_fractions(labels)
    assert rep["phase_fractions"] == pytest.approx(fr)
    assert rep["total_porosity"] == pytest.approx(fr["pore"] + fr["cbd_pore"] + 0.3 * fr["cbd"])
    assert rep["closed_porosity"] + rep["accessible_porosity"] == pytest.approx(
        rep["resolved_porosity"]
    )
    d = rep["density"]
    assert d["porosity_from_densities"] == pytest.approx(rep["total_porosity"], abs=1e-12)
    assert rep["size_um"] == pytest.approx([0.6, 24 * 0.0372, 28 * 0.0372])
    s = rep["surface"]
    assert s["specific_surface_m2_per_g"] == pytest.approx(
        s["specific_surface_per_um"] / d["bulk_density_g_per_cm3"]
    )
    assert len(rep["profile"]["depth_um"]) == 24 and rep["profile"]["thickness_axis"] == "y"
    text = format_porosity_report(rep)
    assert f"{100 * rep['total_porosity']:.2f} %" in text and "m2/g" in text


def test_report_without_voxel_size_has_no_lengths():
    labels = np.zeros((5, 6, 7), dtype=np.uint8)
    labels[:, :, :3] = 1
    rep = porosity_report(labels)
    assert "surface" not in rep and "size_um" not in rep and "depth_um" not in rep["profile"]
    assert rep["total_porosity"] == pytest.approx(4 / 7)
    assert rep["closed_porosity"] == 0.0
    assert "57.14 %" in format_porosity_report(rep)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"densities_g_per_cm3": {"am": 4.76}}, "no density for phase\\(s\\) cbd"),
        ({"densities_g_per_cm3": {"nmc": 4.76}}, "unknown phase"),
        ({"densities_g_per_cm3": {"am": 4.76, "cbd": 1.9, "pore": 1.0}}, "carries no mass"),
        ({"cbd_nanoporosity": 1.0}, "cbd_nanoporosity"),
        ({"voxel_size_nm": "a,b"}, "voxel_size_nm"),
        ({"faces": "sideways"}, "faces"),
        ({"thickness_axis": "w"}, "thickness_axis"),
    ],
)
def test_report_validation(kwargs, match):
    labels = np.array([0, 1, 2, 1] * 6, dtype=np.uint8).reshape(2, 3, 4)
    with pytest.raises(ValueError, match=match):
        porosity_report(labels, **kwargs)
