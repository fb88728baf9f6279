"""Stage ``reference``: numbers of earlier stages against reference values and relations."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from microstructure.io import write_volume
from microstructure.pipeline import parse_recipe, run_pipeline
from microstructure.volume import Volume


@pytest.fixture(scope="module")
def labels_file(tmp_path_factory):
    lab = np.ones((10, 20, 20), dtype=np.uint8)
    lab[:, :, :5] = 0  # a slab of pore: porosity exactly 0.25
    path = tmp_path_factory.mktemp("ref") / "labels.tif"
    write_volume(path, Volume(lab, (50.0, 50.0, 50.0)))
    return path


def _recipe(ref):
    return parse_recipe(
        {
            "recipe": {"name": "ref-test"},
            "stage": [{"name": "porosity"}, {"name": "reference", **ref}],
        }
    )


def test_reference_stage_reports_values_ranges_and_relations(labels_file, tmp_path):
    ref = {
        "source": "constructed",
        "values": [
            {
                "key": "porosity.total_porosity",
                "reference": 0.25,
                "low": 0.2,
                "high": 0.3,
                "scale": 100,
                "unit": "%",
                "label": "porosity",
            },
            {
                "key": "porosity.closed_porosity",
                "high": -0.1,
                "label": "impossible",
                "origin": "recipe",
            },
        ],
        "relations": [
            {"left": "porosity.total_porosity", "op": ">", "right": "porosity.closed_porosity"},
            {"left": "porosity.total_porosity", "op": "<", "right": "porosity.closed_porosity"},
        ],
    }
    out = tmp_path / "run"
    report = run_pipeline(_recipe(ref), labels_file, out, progress=False)
    nums = report["numbers"]["reference"]
    checks = {c["label"]: c for c in nums["checks"]}
    assert checks["porosity"]["value"] == pytest.approx(0.25)
    assert checks["porosity"]["deviation"] == pytest.approx(0.0, abs=1e-12)
    assert checks["porosity"]["status"] == "within"
    assert checks["impossible"]["status"] == "outside"
    assert [r["holds"] for r in nums["relations"]] == [True, False]
    assert nums["n_within"] == 1 and nums["n_relations_holding"] == 1
    assert nums["all_within"] is False
    with open(out / "02-reference" / "reference_comparison.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert float(rows[0]["value"]) == pytest.approx(25.0)  # scaled to %
    md = (out / "02-reference" / "reference.md").read_text()
    assert "| porosity | 25 % | measured on the twin | 25 % | 20 .. 30 | within |" in md
    assert "| impossible | 0 | set by the recipe |" in md
    assert checks["impossible"]["origin"] == "recipe"
    assert nums["n_results"] == 1 and nums["n_inputs"] == 1 and nums["n_results_within"] == 1
    assert rows[1]["origin"] == "set by the recipe"
    assert (out / "figures" / "02-reference-reference.png").exists()


def test_reference_stage_errors(labels_file, tmp_path):
    bad_key = {"values": [{"key": "porosity.no_such_number", "reference": 1.0}]}
    with pytest.raises(ValueError, match="no_such_number.*available: .*total_porosity"):
        run_pipeline(_recipe(bad_key), labels_file, tmp_path / "a", progress=False)
    required = {"values": [{"key": "porosity.total_porosity", "low": 0.5}], "required": True}
    with pytest.raises(ValueError, match="outside the reference"):
        run_pipeline(_recipe(required), labels_file, tmp_path / "b", progress=False)
    with pytest.raises(ValueError, match="low .* > high"):
        _recipe({"values": [{"key": "porosity.total_porosity", "low": 2.0, "high": 1.0}]})
    with pytest.raises(ValueError, match="at least one"):
        _recipe({})
