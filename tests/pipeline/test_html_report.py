"""The static HTML summary of a run: every figure it links is a PNG on disk, the numbers shown
are those of report.json, quality flags of every stage come first (and in report.json and the
console summary), and (when Chromium is installed) the page loads without errors."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from chromium_helpers import chromium, screenshot

from microstructure.io import write_volume
from microstructure.pipeline import (
    Stage,
    StageOutput,
    StageParams,
    parse_recipe,
    register,
    run_pipeline,
)
from microstructure.pipeline.html_report import scalar_numbers
from microstructure.quality import check, console_summary, quality_block
from microstructure.volume import Volume

RECIPE = '[recipe]\nname = "html"\n\n[[stage]]\nname = "porosity"\n'


class _QualityParams(StageParams):
    residual: float = 0.1
    note: str | None = None
    nested: bool = False


@register
class _QualityStage(Stage):
    """Reports a stripe residual that must stay <= 0.35 and the solid fraction (>= 0.2)."""

    name = "test-html-quality"
    Params = _QualityParams
    consumes = "any"
    produces = "none"

    def run(self, volume, params, ctx):
        checks = {
            "residual": check(params.residual, 0.35, meaning="stripe energy left <b>"),
            "solid": check(float(np.mean(volume.data > 0)), 0.2, below=False, meaning="solid"),
        }
        block = quality_block(checks, notes=[params.note] if params.note else [])
        numbers = {"residual": params.residual}
        if params.nested:
            numbers["tilt"] = {"angle_deg": 1.0, "quality": block}
        else:
            numbers["quality"] = block
        return StageOutput(numbers=numbers)


@register
class _NestedQualityStage(_QualityStage):
    """The same checks, reported in ``numbers["tilt"]["quality"]``."""

    name = "test-html-quality-nested"


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


def _run_quality(tmp_path, *stages) -> tuple[dict, str]:
    rng = np.random.default_rng(1)
    labels = (rng.random((8, 12, 12)) < 0.6).astype(np.uint8)
    write_volume(tmp_path / "labels.tif", Volume(labels, (50.0, 50.0, 50.0)))
    rec = parse_recipe({"recipe": {"name": "q"}, "stage": [dict(s) for s in stages]})
    report = run_pipeline(rec, tmp_path / "labels.tif", tmp_path / "out", progress=False)
    return report, (tmp_path / "out" / "report.html").read_text()


def test_failed_check_is_flagged_first_in_html_json_and_console(tmp_path) -> None:
    report, page = _run_quality(
        tmp_path,
        {"name": "porosity"},
        {"name": "test-html-quality", "residual": 0.61, "note": "geometry <unknown>"},
        {"name": "test-html-quality-nested", "residual": 0.2, "nested": True},
    )
    flag = "residual: stripe energy left <b> = 0.61 (limit 0.35)"
    # report.json: the run's quality summary
    on_disk = json.loads((tmp_path / "out" / "report.json").read_text())
    assert on_disk["quality"] == report["quality"]
    q = on_disk["quality"]
    assert q["ok"] is False
    assert (q["checks_passed"], q["checks_failed"], q["stages_checked"]) == (3, 1, 2)
    assert q["flags"] == [
        {"stage": "test-html-quality", "message": flag},
        {"stage": "test-html-quality", "message": "geometry <unknown>"},
    ]
    # report.html: the flags (escaped) come before everything else, in a warning box
    escaped = "residual: stripe energy left &lt;b&gt; = 0.61 (limit 0.35)"
    assert flag not in page and "geometry <unknown>" not in page
    body = page.index("<body>")
    box = page.index('<div class="quality warn"')
    assert body < box < page.index("<h1>")
    assert box < page.index(escaped) < page.index("<h2>1. porosity</h2>")
    assert page.index("geometry &lt;unknown&gt;") < page.index("<h2>Stages</h2>")
    assert "3/4 checks passed" in page and "1 failed" in page
    # each stage's checks table in its own section; the failed row marked
    section2 = page[page.index("<h2>2. test-html-quality</h2>") :]
    assert section2.index("<tr class=failed><td>residual</td><td class=num>0.61</td>") < (
        section2.index("<h2>3. test-html-quality-nested</h2>")
    )
    section3 = page[page.index("<h2>3. test-html-quality-nested</h2>") :]
    assert "quality checks (tilt): all passed" in section3
    assert "<td>residual</td><td class=num>0.2</td><td class=num>0.35</td><td>yes</td>" in (
        section3
    )
    # the console's last lines
    lines = console_summary(report, out_dir=tmp_path / "out")
    assert lines[0] == "quality: 3/4 checks passed, 1 FAILED, 2 warnings"
    assert lines[1] == f"warning: test-html-quality: {flag}"
    assert lines[2] == "warning: test-html-quality: geometry <unknown>"
    assert lines[3].startswith("result: AM volume fraction 0.") and "porosity 0." in lines[3]
    assert lines[-1] == f"report: {tmp_path / 'out' / 'report.html'}"
    assert len(lines) <= 8


def test_passing_checks_say_so_at_the_top(tmp_path) -> None:
    report, page = _run_quality(tmp_path, {"name": "test-html-quality", "residual": 0.3})
    assert report["quality"]["ok"] is True and report["quality"]["flags"] == []
    text = "All quality checks passed (2 checks in 1 stage)."
    assert page.index('<div class="quality ok"') < page.index(text) < page.index("<h1>")
    assert console_summary(report)[0] == "quality: 2/2 checks passed"
    assert not [line for line in console_summary(report) if line.startswith("warning")]


def test_run_without_quality_checks_does_not_claim_they_passed(run_dir) -> None:
    page = (run_dir / "report.html").read_text()
    assert "No stage of this run reports quality checks." in page
    assert "All quality checks passed" not in page
    report = json.loads((run_dir / "report.json").read_text())
    assert report["quality"] == {
        "ok": True,
        "flags": [],
        "checks_passed": 0,
        "checks_failed": 0,
        "stages_checked": 0,
    }


def test_scalar_numbers_flattens_nested_dicts_and_skips_lists() -> None:
    pairs = scalar_numbers({"a": 1.5, "b": {"c": "x", "d": [1, 2]}, "e": None}, max_items=10)
    assert pairs == [("a", 1.5), ("b.c", "x"), ("e", None)]
    assert len(scalar_numbers({str(i): i for i in range(50)}, max_items=7)) == 7


@pytest.mark.skipif(chromium() is None, reason="Chromium not installed")
def test_page_renders_in_headless_chromium(run_dir, tmp_path) -> None:
    shot = tmp_path / "page.png"
    proc = screenshot(run_dir / "report.html", shot, width=1200, height=1600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
