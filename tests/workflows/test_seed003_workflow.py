"""Seed 003 workflow: M-factor table, discharge figures and Table 2 rows on a coarse mesh."""

from __future__ import annotations

import csv

import pytest

from microstructure.workflows.seed003 import load_seed003_config, run_seed003

COARSE = {"n_separator": 3, "n_electrode": 8, "n_secondary": 4, "n_primary": 3}


def test_seed003_workflow_reproduces_the_papers_behaviour(tmp_path):
    cfg = {
        "workflow": {"kind": "seed003"},
        "discharge": [{"preset": "naumann-cal-1", "c_rate": 10.0}],
        "table2": {"cases": [["cal-3", 2.0]]},
        "mesh": COARSE,
    }
    report = run_seed003(cfg, tmp_path, progress=False)
    # Figure 4 / Table 1: Cal-1 does not percolate through the particles (M_combi = M_inter),
    # Cal-2 and Cal-3 do, and M_combi = M_inter + M_particles * M_II (eq. 7)
    mf = report["m_factors"]
    assert mf["cal-1"]["m_particles"] == 0.0
    assert mf["cal-1"]["m_combined"] == pytest.approx(mf["cal-1"]["m_inter"])
    for name in ("cal-2", "cal-3"):
        e = mf[name]
        assert e["m_combined"] == pytest.approx(
            e["m_inter"] + e["m_particles"] * e["m_intragranular"], rel=1e-12
        )
        assert e["m_combined"] > e["m_inter"]
    # seed 003 Fig. 5: Cal-1 at 10C gives the same energy for both transport modes
    d = report["discharges"]["cal-1_10C"]
    assert d["combined"]["energy_density_wh_per_kg"] == pytest.approx(
        d["intergranular"]["energy_density_wh_per_kg"], rel=1e-6
    )
    # seed 003 Fig. 7 / Table 2: Cal-3 at 2C, the intergranular mode depletes the salt at the
    # current collector and loses much of the energy
    (row,) = report["table2"]
    assert row["ratio_intergranular_to_combined"] < 0.85
    assert row["experiment_wh_per_kg"] == 464.0
    with open(tmp_path / "table2.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert float(rows[0]["ours_combined_wh_per_kg"]) == pytest.approx(
        row["ours_combined_wh_per_kg"]
    )
    for name in (
        "m_factor_vs_porosity.png",
        "discharge_cal-1_10C.png",
        "table2.md",
        "discharge_cal-1_10C_combined.csv",
        "salt_cal-1_10C_intergranular.csv",
    ):
        assert (tmp_path / name).is_file(), name
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes left nothing behind


@pytest.mark.parametrize(
    ("doc", "match"),
    [
        ({"discharge": [{"preset": "cal-9", "c_rate": 1.0}]}, "cal-9"),
        ({"discharge": [{"preset": "cal-1", "c_rate": 0.0}]}, "c_rate must be > 0"),
        ({"discharge": [{"preset": "cal-1", "c_rate": 1.0, "transports": ["fast"]}]}, "fast"),
        ({"table2": {"cases": [["cal-2"]]}}, r"expected \[preset, c_rate\]"),
        ({"mesh": {"n_electrode": 1}}, "n_electrode"),
        ({"workflow": {"kind": "seed000"}}, "kind"),
        ({"extra": {}}, "unknown key"),
    ],
)
def test_seed003_config_errors(doc, match):
    with pytest.raises(ValueError, match=match):
        load_seed003_config(doc)


def test_seed003_config_file_in_the_repository_is_valid():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    cfg = load_seed003_config(root / "pipelines" / "seed003_hierarchical.toml")
    assert cfg["table2_cases"] == [("cal-2", 3.0), ("cal-2", 5.0), ("cal-3", 0.5), ("cal-3", 2.0)]
    assert [d["preset"] for d in cfg["discharge"]] == ["cal-1", "cal-2", "cal-3"]
