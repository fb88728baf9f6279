"""The ``bet``, ``tplot`` and ``bjh`` commands: JSON keys of the contract, outputs, errors."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from sorption_models import PHYSISORPTION, VALIDATION, bet_area, bet_isotherm

from microstructure.cli import main


@pytest.fixture
def bet_csv(tmp_path):
    x = np.linspace(0.02, 0.4, 20)
    n = bet_isotherm(x, 3.0, 90.0)
    path = tmp_path / "electrode.csv"
    path.write_text(
        "p/p0,amount (cm3(STP)/g)\n" + "".join(f"{a},{b}\n" for a, b in zip(x, n, strict=True))
    )
    return path


def _json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_bet_json_keys_and_value(capsys, bet_csv, tmp_path):
    data = _json(capsys, ["bet", str(bet_csv), "--json", "--out", str(tmp_path / "bet.png")])
    assert {"bet_area_m2_per_g", "c_constant", "p_over_p0_range"} <= data.keys()
    assert data["bet_area_m2_per_g"] == pytest.approx(bet_area(3.0), rel=0.005)
    assert data["c_constant"] == pytest.approx(90.0, rel=0.005)
    assert len(data["p_over_p0_range"]) == 2 and data["rouquerol_criteria"]["c_positive"]
    assert (tmp_path / "bet.png").stat().st_size > 1000
    fixed = _json(capsys, ["bet", str(bet_csv), "--json", "--p-over-p0-range", "0.05,0.15"])
    assert 0.05 <= fixed["p_over_p0_range"][0] and fixed["p_over_p0_range"][1] <= 0.15
    assert main(["bet", str(bet_csv)]) == 0
    assert "m2/g" in capsys.readouterr().out


def test_tplot_and_bjh_json_keys(capsys, tmp_path):
    path = PHYSISORPTION / "Sample_A.xls"
    if not path.is_file():
        pytest.skip(f"validation file {path} not available")
    t = _json(capsys, ["tplot", str(path), "--json", "--manufacturer", "mic", "--format", "xl"])
    assert {
        "micropore_area_m2_per_g",
        "external_area_m2_per_g",
        "micropore_volume_cm3_per_g",
    } <= t.keys()
    out = tmp_path / "psd.csv"
    b = _json(capsys, ["bjh", str(path), "--json", "--out", str(out)])
    assert 5 < b["bjh_d50_nm"] < 15 and b["hysteresis"]["hysteresis_found"]
    with open(out, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == b["n_steps"] and "dv_dlogd_cm3_per_g" in rows[0]
    fig = tmp_path / "psd.png"
    assert main(["bjh", str(path), "--out", str(fig), "--branch", "adsorption"]) == 0
    assert fig.stat().st_size > 1000
    capsys.readouterr()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["bet", "{mip}"], "not an isotherm"),
        (["bet", "{csv}", "--p-over-p0-range", "0.3"], "--p-over-p0-range"),
        (["bet", "{csv}", "--p-over-p0-range", "0.3,0.1"], "A < B"),
        (["bjh", "{csv}"], "no desorption branch"),
        (["tplot", "{csv}", "--out", "{tmp}/t.txt"], "--out"),
        (["bet", "{tmp}/absent.csv"], "no such isotherm file"),
    ],
)
def test_errors_are_one_line(capsys, bet_csv, tmp_path, argv, needle):
    mip = VALIDATION / "micropy_input_mip.txt"
    if "{mip}" in argv and not mip.is_file():
        pytest.skip("validation folder absent")
    argv = [a.format(mip=mip, csv=bet_csv, tmp=tmp_path) for a in argv]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
