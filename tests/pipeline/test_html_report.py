"""The static HTML summary of a run: every figure it links is a PNG on disk, the numbers shown
are those of report.json, and (when Chromium is installed) the page loads without errors."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from microstructure.io import write_volume
from microstructure.pipeline import run_pipeline
from microstructure.pipeline.html_report import scalar_numbers
from microstructure.volume import Volume

RECIPE = '[recipe]\nname = "html"\n\n[[stage]]\nname = "porosity"\n'


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs)["src"])

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("html")
    rng = np.random.default_rng(0)
    labels = (rng.random((16, 24, 24)) < 0.6).astype(np.uint8)  # 0 pore / 1 AM
    write_volume(tmp / "labels.tif", Volume(labels, (50.0, 50.0, 50.0)))
    (tmp / "r.toml").write_text(RECIPE)
    run_pipeline(tmp / "r.toml", tmp / "labels.tif", tmp / "out", progress=False)
    return tmp / "out"


def test_html_links_only_existing_pngs_and_shows_report_numbers(run_dir) -> None:
    page = (run_dir / "report.html").read_text()
    parser = _Collect()
    parser.feed(page)
    # porosity: profile + labels slice; the run: 3D snapshot of the labels volume
    assert sorted(parser.images) == [
        "figures/01-porosity-labels.png",
        "figures/01-porosity-profile.png",
        "figures/3d_labels.png",
    ]
    for src in parser.images:
        data = (run_dir / src).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", src
    report = json.loads((run_dir / "report.json").read_text())
    text = " ".join(parser.text)
    porosity = report["numbers"]["porosity"]["total_porosity"]
    assert f"{porosity:.5g}" in text
    assert "porosity" in text and report["input"]["path"] in text


def test_scalar_numbers_flattens_nested_dicts_and_skips_lists() -> None:
    pairs = scalar_numbers({"a": 1.5, "b": {"c": "x", "d": [1, 2]}, "e": None}, max_items=10)
    assert pairs == [("a", 1.5), ("b.c", "x"), ("e", None)]
    assert len(scalar_numbers({str(i): i for i in range(50)}, max_items=7)) == 7


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Chromium not installed")
def test_page_renders_in_headless_chromium(run_dir, tmp_path) -> None:
    shot = tmp_path / "page.png"
    proc = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            f"--user-data-dir={tmp_path / 'profile'}",
            f"--screenshot={shot}",
            "--window-size=1200,1600",
            (run_dir / "report.html").as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
