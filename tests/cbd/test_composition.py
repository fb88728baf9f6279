"""Composition: seed 000 Table 1 and input validation."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from microstructure.cbd import composition, parse_named_values

MASS = {"NMC622": 0.95, "CB": 0.02, "PVdF": 0.03}
DENS = {"NMC622": 4.76, "CB": 2.25, "PVdF": 1.77}


def test_seed000_table1_to_printed_digits():
    c = composition(MASS, DENS, cbd=("CB", "PVdF"))
    assert round(100 * c.volume_fractions["NMC622"], 2) == 88.54
    assert round(100 * c.volume_fractions["CB"], 2) == 3.94
    assert round(100 * c.volume_fractions["PVdF"], 2) == 7.52
    assert round(100 * c.cbd_volume_fraction, 2) == 11.46
    assert round(c.cbd_density_g_per_cm3, 3) == 1.935
    assert round(c.theoretical_density_g_per_cm3, 3) == 4.436
    assert c.cbd_mass_fraction == pytest.approx(0.05)


def test_to_dict_is_json_and_format_shows_percent():
    c = composition(MASS, DENS, cbd=("cb", "pvdf"))  # case-insensitive
    d = json.loads(json.dumps(c.to_dict()))
    assert d["cbd_components"] == ["CB", "PVdF"]
    assert d["solid_volume_fractions"]["NMC622"] == pytest.approx(0.8854, abs=5e-5)
    text = c.format()
    assert "88.54" in text and "11.46" in text and "1.935" in text and "4.436" in text


def test_phase_volume_fractions_of_the_digital_model():
    c = composition(MASS, DENS)
    pv = c.phase_volume_fractions(0.161, cbd_nanoporosity=0.502)
    assert pv["am"] + pv["cbd_solid"] + pv["porosity"] == pytest.approx(1.0)
    assert pv["cbd_nanopores"] / pv["cbd_envelope"] == pytest.approx(0.502)
    assert pv["am"] + pv["cbd_envelope"] + pv["pore_outside_cbd"] == pytest.approx(1.0)
    assert pv["cbd_solid"] / (pv["am"] + pv["cbd_solid"]) == pytest.approx(0.1146, abs=5e-5)


@given(
    st.lists(st.floats(0.01, 1.0), min_size=2, max_size=5),
    st.lists(st.floats(0.5, 10.0), min_size=5, max_size=5),
)
def test_volume_fractions_conserve_mass_and_volume(ws, rhos):
    total = sum(ws)
    mass = {f"c{i}": w / total for i, w in enumerate(ws)}
    dens = {f"c{i}": rhos[i] for i in range(len(ws))}
    c = composition(mass, dens, cbd=list(mass)[1:], normalize=True)
    assert sum(c.volume_fractions.values()) == pytest.approx(1.0)
    # mass of each component recovered from volume fraction x density x theoretical volume
    for k in mass:
        recovered = c.volume_fractions[k] * dens[k] / c.theoretical_density_g_per_cm3
        assert recovered == pytest.approx(c.mass_fractions[k], rel=1e-9)
    used = [dens[k] for k in mass]
    assert min(used) * (1 - 1e-12) <= c.theoretical_density_g_per_cm3 <= max(used) * (1 + 1e-12)


@pytest.mark.parametrize(
    "mass, dens, cbd, match",
    [
        ({"AM": 0.95, "CB": 0.02}, DENS, (), "sum to 0.97"),
        ({"AM": 95, "CB": 2, "PVdF": 3}, {"AM": 4.76, "CB": 2.25, "PVdF": 1.77}, (), "divide"),
        ({"AM": 1.0, "CB": 0.0}, {"AM": 4.76, "CB": 2.25}, (), "must be > 0"),
        ({"AM": 0.95, "CB": 0.05}, {"AM": 4.76}, (), "no density given for component CB"),
        ({"AM": 0.95, "CB": 0.05}, {"AM": 4.76, "CB": -1}, (), "CB must be > 0"),
        ({"AM": 0.95, "CB": 0.05}, {"AM": 4.76, "CB": 2.25}, ("PVdF",), "cbd: 'PVdF'"),
    ],
)
def test_validation_errors(mass, dens, cbd, match):
    with pytest.raises(ValueError, match=match):
        composition(mass, dens, cbd=cbd)


def test_normalize_rescales_percentages():
    c = composition(
        {"AM": 95, "CB": 2, "PVdF": 3}, {"am": 4.76, "cb": 2.25, "pvdf": 1.77}, normalize=True
    )
    assert c.normalized
    assert round(c.theoretical_density_g_per_cm3, 3) == 4.436


def test_parse_named_values():
    assert parse_named_values(" AM=0.95, CB=2e-2,PVdF=0.03", name="--x") == {
        "AM": 0.95,
        "CB": 0.02,
        "PVdF": 0.03,
    }


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty"),
        ("AM=0.95,,CB=0.05", "empty item"),
        ("AM", "expected NAME=VALUE"),
        ("AM=1=2", "expected NAME=VALUE"),
        ("=0.5", "missing name"),
        ("AM=abc", "value of AM is not a number"),
        ("AM=nan", "finite"),
        ("AM=0.5,am=0.5", "more than once"),
    ],
)
def test_parse_named_values_errors(text, match):
    with pytest.raises(ValueError, match=f"--mass-fractions: .*{match}"):
        parse_named_values(text, name="--mass-fractions")
