"""Every stage gets a progress reporter (``ctx.progress``: truthy when shown, callable with a
fraction or ``done, total``), a long stage shows a heartbeat, log lines do not garble the
bars, and each stage's stored volume names its own stage."""

from __future__ import annotations

import io
import json
import time

import numpy as np
import pytest
import tifffile

from microstructure.io import write_volume
from microstructure.pipeline import Stage, StageOutput, StageParams, parse_recipe, register
from microstructure.pipeline.progress import StageProgress
from microstructure.pipeline.runner import run_pipeline
from microstructure.pipeline.stages import StageContext
from microstructure.volume import Volume

SEEN: list[dict] = []


class _Params(StageParams):
    add: int = 1


@register
class _ProgressStage(Stage):
    """Adds ``add`` to a grayscale volume and reports progress on the way."""

    name = "test-progress-add"
    Params = _Params
    consumes = "any"
    produces = "grayscale"

    def run(self, volume, params, ctx):
        p = ctx.progress
        p(0.25, message="quarter")
        step = p.counter(total=4, message="slabs")
        for _ in range(4):
            step(1)
        SEEN.append(
            {
                "type": type(p).__name__,
                "shown": bool(p),
                "fraction": p.fraction,
                "message": p.message,
                "calls": p.calls,
                "desc": p.desc,
            }
        )
        data = np.asarray(volume.data, dtype=np.float32) + params.add
        return StageOutput(volume=Volume(data, volume.voxel_size_nm, dict(volume.metadata)))


@pytest.fixture
def stack(tmp_path):
    data = np.arange(6 * 8 * 8, dtype=np.uint16).reshape(6, 8, 8) * 37 % 1000
    path = tmp_path / "in.tif"
    write_volume(path, Volume(data, (20.0, 10.0, 10.0)))
    return path


def _recipe(n: int):
    return parse_recipe(
        {
            "recipe": {"name": "p"},
            "stage": [{"name": "test-progress-add", "add": i} for i in range(n)],
        }
    )


def test_runner_gives_every_stage_a_callable_progress(tmp_path, stack) -> None:
    SEEN.clear()
    run_pipeline(_recipe(2), stack, tmp_path / "out", progress=False)
    assert [s["desc"] for s in SEEN] == ["[1/2] test-progress-add", "[2/2] test-progress-add"]
    for s in SEEN:
        assert s["type"] == "StageProgress" and s["shown"] is False
        assert s["fraction"] == 1.0 and s["message"] == "slabs" and s["calls"] == 6


def test_each_stage_tiff_names_its_own_stage(tmp_path, stack) -> None:
    run_pipeline(_recipe(3), stack, tmp_path / "out", progress=False)
    for i in (1, 2, 3):
        folder = tmp_path / "out" / f"0{i}-test-progress-add"
        with tifffile.TiffFile(folder / "volume.tif") as tif:
            info = json.loads(tif.imagej_metadata["Info"])
            data = tif.asarray()
        assert info["stage"] == "test-progress-add" and info["stage_index"] == i
        assert info["stage_key"] == ("test-progress-add" if i == 1 else f"test-progress-add-{i}")
        # the volume is the stage's own output: input + 0 + 1 + ... + (i - 1)
        assert float(data[0, 0, 1]) == 37.0 + sum(range(i))


def test_a_bool_progress_is_wrapped_and_callable(tmp_path) -> None:
    ctx = StageContext(work_dir=tmp_path, progress=False)
    assert isinstance(ctx.progress, StageProgress) and not ctx.progress
    ctx.progress(3, total=12, message="slab 3/12")
    assert ctx.progress.fraction == pytest.approx(0.25) and ctx.progress.message == "slab 3/12"
    ctx.progress(message="only text")
    assert ctx.progress.fraction == pytest.approx(0.25) and ctx.progress.message == "only text"
    assert bool(StageContext(work_dir=tmp_path).progress) is True
    with pytest.raises(ValueError, match="done"):
        ctx.progress(-1)
    with pytest.raises(ValueError, match="total"):
        ctx.progress(1, total=0)
    with pytest.raises(ValueError, match="done"):
        ctx.progress(float("nan"))


def test_bar_shows_fraction_and_message() -> None:
    out = io.StringIO()
    with StageProgress(True, desc="[3/9] cbd", file=out, force_display=True, delay_s=0) as p:
        p(5, total=10, message="insertion")
        time.sleep(0.15)
        p(0.9)
    text = out.getvalue()
    assert "[3/9] cbd" in text and "50%" in text and "insertion" in text and "90%" in text


def test_a_silent_long_stage_shows_a_heartbeat_with_elapsed_time() -> None:
    out = io.StringIO()
    p = StageProgress(
        True, desc="[6/11] cbd", file=out, force_display=True, delay_s=0.1, heartbeat_s=0.05
    )
    with p:
        time.sleep(0.6)  # a stage that never calls progress
    assert p.calls == 0 and p.heartbeats >= 3
    text = out.getvalue()
    assert "[6/11] cbd: running, 00:00 elapsed" in text
    # nothing is drawn before the delay, nor when progress is off
    quiet = io.StringIO()
    with StageProgress(True, file=quiet, force_display=True, delay_s=5.0, heartbeat_s=0.05):
        time.sleep(0.2)
    off = io.StringIO()
    with StageProgress(False, file=off, force_display=True, delay_s=0, heartbeat_s=0.05) as q:
        q(0.5)
        time.sleep(0.2)
    assert quiet.getvalue() == "" and off.getvalue() == ""


def test_log_lines_clear_and_redraw_the_bars(capsys) -> None:
    import sys

    from tqdm import tqdm

    from microstructure.pipeline.runner import _log

    bar = tqdm(total=10, desc="stages", file=sys.stderr, disable=False, mininterval=0)
    bar.update(3)
    before = capsys.readouterr()
    lines: list[str] = []
    _log(lambda line: (lines.append(line), print(line)), "[1/2] test: computed in 0.1 s")
    after = capsys.readouterr()
    bar.close()
    assert lines == ["[1/2] test: computed in 0.1 s"]
    assert after.out == "[1/2] test: computed in 0.1 s\n"
    # the bar was cleared before the line and drawn again after it
    assert "stages" in before.err and "\r" in after.err and "stages" in after.err


def test_console_ends_with_the_summary_and_the_report_path(tmp_path, capsys) -> None:
    from microstructure.cli import main
    from microstructure.pipeline.summary import summary_lines

    rng = np.random.default_rng(0)
    labels = (rng.random((8, 16, 16)) < 0.6).astype(np.uint8)
    write_volume(tmp_path / "labels.tif", Volume(labels, (50.0, 50.0, 50.0)))
    (tmp_path / "r.toml").write_text('[[stage]]\nname = "porosity"\n')
    out = tmp_path / "out"
    argv = ["run", str(tmp_path / "r.toml"), "--input", str(tmp_path / "labels.tif")]
    assert main([*argv, "--out", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    report = json.loads((out / "report.json").read_text())
    summary = summary_lines(report, out_dir=out)
    assert lines[0].startswith("[1/1] porosity: computed in ")
    assert lines[1].startswith("finished: 1 stage(s), 1 computed in ")
    assert lines[2:] == summary
    assert summary[0].startswith("porosity: total ") and "%" in summary[0]
    assert summary[-1] == f"report: {out / 'report.html'}" and (out / "report.html").is_file()
    por = report["numbers"]["porosity"]["total_porosity"]
    assert f"total {100 * por:.2f} %" in summary[0]
