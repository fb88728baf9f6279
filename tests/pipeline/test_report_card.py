"""report.html is results first: the summary card (porosity, phase fractions, D50 of MIP and
granulometry, M-factor and tortuosity factor per axis, quality) opens the page, its numbers
are those of report.json, the console's last lines say the same, and headless Chromium shows
the card at the top of the window."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from chromium_helpers import chromium, screenshot

from microstructure.io import write_volume
from microstructure.phantom import generate_phantom
from microstructure.pipeline import parse_recipe, run_pipeline
from microstructure.pipeline.summary import lookup, run_summary, summary_lines
from microstructure.volume import Volume

#: the accent colour of the card's top border (``.card`` in html_report._CSS)
ACCENT = (0x1F, 0x5F, 0xBF)


class _Card(HTMLParser):
    """Cells with ``data-source`` (stage:path, exact value, shown text) and the order of the
    top-level blocks of the body."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []
        self.order: list[str] = []
        self._cell: dict[str, str] | None = None
        self.images: list[str] = []
        self.links: dict[str, str] = {}
        self._href: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "td" and "data-source" in a:
            self._cell = {"source": a["data-source"], "value": a["data-value"], "text": ""}
        if tag in ("section", "h1") and len(self.order) < 6:
            self.order.append(tag)
            self._heading = tag == "h1"
        if tag == "a":
            self._href = a.get("href")
        if tag == "img":
            self.images.append(a["src"])
            if self._href:
                self.links[a["src"]] = self._href

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.cells.append(self._cell)
            self._cell = None
        if tag == "a":
            self._href = None

    def handle_data(self, data):
        if getattr(self, "_heading", False):
            self.order[-1] += f":{data.strip()}"
            self._heading = False
        if self._cell is not None:
            self._cell["text"] += data


@pytest.fixture(scope="module")
def full_run(tmp_path_factory) -> Path:
    """Porosity, MIP, granulometry and M-factors of a small phantom labels volume."""
    tmp = tmp_path_factory.mktemp("card")
    ph = generate_phantom((12, 32, 32), seed=3)
    write_volume(tmp / "labels.tif", Volume(ph.labels, ph.voxel_size_nm, {}))
    recipe = parse_recipe(
        {
            "recipe": {"name": "card"},
            "stage": [
                {"name": "porosity"},
                {"name": "mip", "inlet": "all"},
                {"name": "granulometry"},
                {"name": "mfactor", "axes": ["y", "x"], "descriptors": False},
            ],
        }
    )
    run_pipeline(recipe, tmp / "labels.tif", tmp / "out", progress=False)
    return tmp / "out"


def _shown_number(text: str) -> tuple[float, str]:
    m = re.fullmatch(r"\s*([-+0-9.e]+)\s*(%|nm)?\s*", text)
    assert m, text
    return float(m.group(1)), m.group(2) or ""


def test_card_numbers_equal_report_json(full_run) -> None:
    report = json.loads((full_run / "report.json").read_text())
    page = (full_run / "report.html").read_text()
    card = _Card()
    card.feed(page)
    sources = {c["source"] for c in card.cells}
    assert sources == {
        "porosity:total_porosity",
        "porosity:closed_porosity",
        "porosity:accessible_porosity",
        "porosity:phase_fractions.pore",
        "porosity:phase_fractions.am",
        "porosity:phase_fractions.cbd",
        "porosity:phase_fractions.cbd_pore",
        "mip:d50_nm",
        "granulometry:d50_nm",
        "mfactor:axes.y.m_factor",
        "mfactor:axes.y.tortuosity_factor",
        "mfactor:axes.x.m_factor",
        "mfactor:axes.x.tortuosity_factor",
    }
    numbers = report["numbers"]
    for cell in card.cells:
        stage, path = cell["source"].split(":", 1)
        truth = lookup(numbers, stage, path)
        assert float(cell["value"]) == truth, cell  # exactly the JSON number
        shown, unit = _shown_number(cell["text"])
        expect = 100.0 * truth if unit == "%" else truth
        assert shown == pytest.approx(expect, rel=5e-4, abs=5e-3), cell
    # independent of the summary module: the porosities add up as the porosity stage says
    por = numbers["porosity"]
    assert por["total_porosity"] == pytest.approx(
        por["closed_porosity"] + por["accessible_porosity"]
    )
    fr = por["phase_fractions"]
    assert sum(fr.values()) == pytest.approx(1.0)


def test_card_comes_first_then_figures_then_provenance(full_run) -> None:
    page = (full_run / "report.html").read_text()
    card = _Card()
    card.feed(page)
    assert card.order[:3] == ["section", "h1:Figures", "h1:Provenance"]
    body = page[page.index("<body>") :]
    assert body.index("<h1>Provenance</h1>") < body.index("<h2>Stages</h2>")
    assert (
        body.index('<section class="card" id="summary">')
        < body.index("Quality")
        < (body.index("<h1>Figures</h1>"))
    )
    # every figure links to itself (click to enlarge) and is not squeezed to a fixed width
    assert card.images and all(card.links[src] == src for src in card.images)
    assert "max-width: 520px" not in page
    for src in card.images:
        assert (full_run / src).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_long_numbers_tables_are_folded_not_cut(full_run) -> None:
    report = json.loads((full_run / "report.json").read_text())
    page = (full_run / "report.html").read_text()
    section = page[page.index("<h2>4. mfactor</h2>") :]
    # every scalar number of the M-factor stage is in the page (more than 40 of them) ...
    assert "<details><summary>" in section and "(click to show)" in section
    rows = re.findall(r"<tr><td>([a-z_][a-z_.0-9]*)</td><td class=num>", section)
    assert len(rows) > 40 and len(rows) == len(set(rows))
    assert "axes.x.percolating_fraction" in rows and "axes.y.percolating_fraction" in rows
    # ... with the value of report.json
    value = report["numbers"]["mfactor"]["axes"]["x"]["percolating_fraction"]
    assert f"<td>axes.x.percolating_fraction</td><td class=num>{value:.5g}</td>" in section


def test_console_summary_says_what_the_card_says(full_run) -> None:
    report = json.loads((full_run / "report.json").read_text())
    lines = summary_lines(report, out_dir=full_run)
    items = {i.source: i for i in run_summary(report)}
    por = items["porosity:total_porosity"]
    assert lines[0] == (
        f"porosity: total {por.text}, closed {items['porosity:closed_porosity'].text}, "
        f"accessible {items['porosity:accessible_porosity'].text}"
    )
    assert lines[2] == (
        f"pore size: MIP D50 {items['mip:d50_nm'].text}, "
        f"granulometry D50 {items['granulometry:d50_nm'].text}"
    )
    assert lines[3].startswith("M-factor: y ") and "(tau " in lines[3]
    assert lines[-2].startswith("quality: ")
    assert lines[-1] == f"report: {full_run / 'report.html'}"
    page = (full_run / "report.html").read_text()
    for item in items.values():
        assert f">{item.text}</td>" in page


def test_summary_of_a_run_without_results_is_empty() -> None:
    report = {"numbers": {"geometry": {"shape_out": [1, 2, 3]}}, "stages": []}
    assert run_summary(report) == []
    assert summary_lines(report) == ["quality: 0/0 checks passed", "report: report.html"]


@pytest.mark.skipif(chromium() is None, reason="Chromium not installed")
def test_chromium_screenshot_shows_the_card_first(full_run, tmp_path) -> None:
    from PIL import Image

    shot = tmp_path / "report.png"
    proc = screenshot(full_run / "report.html", shot, width=1280, height=800, hide_scrollbars=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    img = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert img.shape[:2] == (800, 1280)
    accent = np.all(np.abs(img - np.array(ACCENT)) <= 8, axis=2)
    rows = np.flatnonzero(accent.sum(axis=1) > 0.6 * img.shape[1])
    # the card's accent border spans the window near the top: the card is what one sees first
    assert rows.size and rows.min() < 60, rows[:5]
    # and the card is more than a border: its body (light background) fills the first screen
    light = np.all(img >= 245, axis=2)
    assert light[rows.max() + 5 : 400].mean() > 0.5
