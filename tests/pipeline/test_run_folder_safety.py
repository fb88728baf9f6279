"""Run folder safety (issue 20): outputs never overlap inputs, one run per folder, no stale
stage folders or figures, cache keys on file contents, checksummed cached volumes, unique
report keys per stage, no empty folders after a refused run."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tifffile
from pydantic import Field

from microstructure.io import read_volume, write_volume
from microstructure.pipeline import (
    Stage,
    StageOutput,
    StageParams,
    get_stage,
    parse_recipe,
    register,
    run_pipeline,
)
from microstructure.pipeline.run_folder import LOCK_FILE, RunFolderLocked, run_folder_lock
from microstructure.pipeline.stages import file_params
from microstructure.volume import Volume

CALLS: list[str] = []
#: a valid 1x1 PNG
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


class _AddParams(StageParams):
    add: float = Field(1.0)
    fail: bool = False
    interrupt: bool = False


@register
class _AddStage(Stage):
    """grayscale -> grayscale, one figure."""

    name = "safety-add"
    Params = _AddParams
    consumes = "grayscale"
    produces = "grayscale"

    def run(self, volume, params, ctx):
        CALLS.append(self.name)
        if params.fail:
            raise ValueError("bad value for 'add'")
        if params.interrupt:
            raise KeyboardInterrupt
        out = volume.data.astype(np.float32) + params.add
        (ctx.work_dir / "view.png").write_bytes(PNG)
        return StageOutput(
            volume=Volume(out, volume.voxel_size_nm),
            numbers={"mean": float(out.mean()), "seen": sorted(ctx.results)},
            figures=["view.png"],
        )


class _ScribbleParams(StageParams):
    scribbles: str


@register
class _ScribbleStage(Stage):
    """Reads a text file (a stand-in for a scribbles volume): its number is the file's value."""

    name = "safety-scribbles"
    Params = _ScribbleParams
    consumes = "any"
    produces = "none"

    def run(self, volume, params, ctx):
        CALLS.append(self.name)
        value = float(open(params.scribbles).read())
        return StageOutput(numbers={"am_fraction": value})


def _recipe(*stages):
    return parse_recipe({"recipe": {"name": "t"}, "stage": [dict(s) for s in stages]})


@pytest.fixture
def stack(tmp_path):
    rng = np.random.default_rng(1)
    data = rng.integers(0, 120, size=(4, 8, 8)).astype(np.uint8)
    path = tmp_path / "in.tif"
    write_volume(path, Volume(data, (10.0, 5.0, 5.0)))
    return path, data


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ---------------------------------------------------------------- outputs vs inputs
def test_input_inside_out_is_refused_and_nothing_is_touched(tmp_path, stack):
    path, _ = stack
    run_folder = tmp_path / "R"
    two = _recipe({"name": "safety-add"}, {"name": "safety-add", "add": 2})
    run_pipeline(two, path, run_folder, progress=False)
    inner = run_folder / "01-safety-add" / "volume.tif"
    before = {p: _sha(p) for p in (inner, run_folder / "report.json")}
    with pytest.raises(ValueError) as info:
        run_pipeline(_recipe({"name": "safety-add"}), inner, run_folder, progress=False)
    msg = str(info.value)
    assert "\n" not in msg and "must not contain the input" in msg
    assert str(run_folder) in msg and str(inner) in msg
    assert {p: _sha(p) for p in before} == before


def test_out_inside_input_slice_folder_is_refused(tmp_path, stack):
    _, data = stack
    slices = tmp_path / "slices"
    slices.mkdir()
    for z in range(data.shape[0]):
        tifffile.imwrite(slices / f"s{z:03d}.tif", data[z])
    out = slices / "run"
    with pytest.raises(ValueError, match="must not be inside the input stack") as info:
        run_pipeline(_recipe({"name": "safety-add"}), slices, out, progress=False)
    assert str(slices) in str(info.value)
    assert not out.exists()


def test_out_equal_to_input_through_another_spelling(tmp_path, stack):
    path, _ = stack
    alias = tmp_path / "sub" / ".." / path.name
    (tmp_path / "sub").mkdir()
    with pytest.raises(ValueError, match="must not be the input"):
        run_pipeline(_recipe({"name": "safety-add"}), path, alias, progress=False)


def test_stage_file_inside_out_is_refused(tmp_path, stack):
    path, _ = stack
    out = tmp_path / "out"
    run_pipeline(_recipe({"name": "safety-add"}), path, out, progress=False)
    scribbles = out / "01-safety-add" / "s.txt"
    scribbles.write_text("0.5")
    rec = _recipe({"name": "safety-scribbles", "scribbles": str(scribbles)})
    with pytest.raises(ValueError, match="stage 1 'safety-scribbles' scribbles"):
        run_pipeline(rec, path, out, progress=False)


# ------------------------------------------------------------------ stale stage folders
def test_stage_folders_of_another_recipe_are_refused_then_removed_with_force(tmp_path, stack):
    path, _ = stack
    out = tmp_path / "out"
    run_pipeline(
        _recipe({"name": "safety-add"}, {"name": "safety-add", "add": 3}),
        path,
        out,
        progress=False,
    )
    assert (out / "figures" / "02-safety-add-view.png").exists()
    one = _recipe({"name": "safety-add"})
    report_before = _sha(out / "report.json")
    with pytest.raises(ValueError) as info:
        run_pipeline(one, path, out, progress=False)
    msg = str(info.value)
    assert "\n" not in msg and "02-safety-add" in msg and "--force" in msg
    assert (out / "02-safety-add").is_dir() and _sha(out / "report.json") == report_before
    report = run_pipeline(one, path, out, progress=False, force=True)
    assert not (out / "02-safety-add").exists()
    assert not list((out / "figures").glob("02-*"))
    assert [s["dir"] for s in report["stages"]] == ["01-safety-add"]
    page = (out / "report.html").read_text()
    assert "01-safety-add-view.png" in page and "02-safety-add" not in page


def test_report_html_shows_only_this_runs_figures(tmp_path, stack):
    path, _ = stack
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    (out / "figures" / "07-old-stage-view.png").write_bytes(PNG)  # e.g. copied by hand
    run_pipeline(_recipe({"name": "safety-add"}), path, out, progress=False)
    page = (out / "report.html").read_text()
    assert "07-old-stage" not in page and "01-safety-add-view.png" in page


# ------------------------------------------------------------------------------- lock
def _hold_lock(out):
    code = textwrap.dedent(
        f"""
        import sys, time
        from microstructure.pipeline.run_folder import run_folder_lock
        with run_folder_lock({str(out)!r}):
            print("locked", flush=True)
            time.sleep(120)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_run_into_a_locked_folder_is_refused_naming_the_holder(tmp_path, stack):
    path, _ = stack
    out = tmp_path / "out"
    out.mkdir()
    proc = _hold_lock(out)
    try:
        CALLS.clear()
        with pytest.raises(
            RunFolderLocked, match=f"another run is using this folder \\(PID {proc.pid}"
        ):
            run_pipeline(_recipe({"name": "safety-add"}), path, out, progress=False)
        assert CALLS == [] and not (out / "01-safety-add").exists()
        assert (out / LOCK_FILE).exists()  # the holder's lock is left alone
    finally:
        proc.kill()  # dies without releasing: its lock file stays behind
        proc.wait()
    assert json.loads((out / LOCK_FILE).read_text())["pid"] == proc.pid
    report = run_pipeline(_recipe({"name": "safety-add"}), path, out, progress=False)
    assert report["status"] == "finished"  # the dead holder's lock was taken over
    assert not (out / LOCK_FILE).exists()  # and released at the end


def test_lock_released_after_a_failed_run_and_reentrant(tmp_path, stack):
    path, _ = stack
    out = tmp_path / "out"
    run_pipeline(_recipe({"name": "safety-add"}), path, out, progress=False)
    with pytest.raises(ValueError, match="bad value"):
        run_pipeline(
            _recipe({"name": "safety-add"}, {"name": "safety-add", "fail": True}),
            path,
            out,
            progress=False,
        )
    assert not (out / LOCK_FILE).exists()
    with pytest.raises(KeyboardInterrupt):
        run_pipeline(
            _recipe({"name": "safety-add"}, {"name": "safety-add", "interrupt": True}),
            path,
            out,
            progress=False,
        )
    assert not (out / LOCK_FILE).exists()
    with run_folder_lock(out):  # e.g. the CLI preparing a phantom, then the run
        info = json.loads((out / LOCK_FILE).read_text())
        assert info["pid"] == os.getpid() and info["started"]
        run_pipeline(_recipe({"name": "safety-add"}), path, out, progress=False)
        assert (out / LOCK_FILE).exists()
    assert not (out / LOCK_FILE).exists()


# ------------------------------------------------------------------ cache by file content
def test_edited_scribbles_file_recomputes_the_stage(tmp_path, stack):
    path, _ = stack
    out = tmp_path / "out"
    scribbles = tmp_path / "scribbles.txt"
    scribbles.write_text("0.636")
    rec = _recipe({"name": "safety-add"}, {"name": "safety-scribbles", "scribbles": str(scribbles)})
    first = run_pipeline(rec, path, out, progress=False)
    assert first["numbers"]["safety-scribbles"]["am_fraction"] == pytest.approx(0.636)
    scribbles.write_text("0.362")  # same path, new content
    CALLS.clear()
    second = run_pipeline(rec, path, out, progress=False)
    assert CALLS == ["safety-scribbles"]
    assert [s["status"] for s in second["stages"]] == ["cached", "computed"]
    assert second["numbers"]["safety-scribbles"]["am_fraction"] == pytest.approx(0.362)
    CALLS.clear()
    third = run_pipeline(rec, path, out, progress=False)
    assert CALLS == [] and [s["status"] for s in third["stages"]] == ["cached", "cached"]


def test_builtin_stages_declare_the_files_they_read(tmp_path):
    scribbles = tmp_path / "s.tif"
    scribbles.write_bytes(b"x")
    seg = get_stage("segment")
    params = seg.Params(method="trainable", scribbles=str(scribbles))
    assert seg().input_files(params) == [("scribbles", str(scribbles))]
    params = seg.Params(method="trainable", model=str(scribbles))
    assert seg().input_files(params) == [("model", str(scribbles))]
    curve = tmp_path / "curve.csv"
    curve.write_text("pressure_psi,volume_ml_per_g\n1,0\n2,0.1\n")
    mip = get_stage("mip")
    params = mip.Params(measured={"path": str(curve)})
    assert mip().input_files(params) == [("measured.path", str(curve))]
    assert file_params(get_stage("porosity").Params()) == []


# ------------------------------------------------------------------- cached volume checksum
@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_cached_volume_is_recomputed(tmp_path, stack, damage):
    path, _ = stack
    out = tmp_path / "out"
    rec = _recipe({"name": "safety-add"}, {"name": "safety-add", "add": 2})
    fresh = run_pipeline(rec, path, out, progress=False)
    vol = out / "01-safety-add" / "volume.tif"
    good = vol.read_bytes()
    meta = json.loads((out / "01-safety-add" / "params.json").read_text())
    assert meta["checksums"]["volume.tif"] == hashlib.sha256(good).hexdigest()
    if damage == "truncate":
        vol.write_bytes(good[: len(good) // 2])
    else:  # same size, one byte of the pixel data changed
        vol.write_bytes(good[:-1] + bytes([good[-1] ^ 0xFF]))
    lines: list[str] = []
    CALLS.clear()
    report = run_pipeline(rec, path, out, progress=False, log=lines.append)
    assert "safety-add" in CALLS
    assert report["stages"][0]["status"] == "computed"
    assert any("cached result not trusted" in ln and "volume.tif" in ln for ln in lines)
    assert vol.read_bytes() == good
    assert report["numbers"] == fresh["numbers"]
    assert np.array_equal(
        read_volume(out / "02-safety-add" / "volume.tif").data,
        read_volume(path).data.astype(np.float32) + 3,
    )


# ------------------------------------------------------------- two stages of one name
def test_two_stages_of_one_name_keep_their_own_numbers(tmp_path, stack):
    path, data = stack
    out = tmp_path / "out"
    report = run_pipeline(
        _recipe({"name": "safety-add", "add": 1}, {"name": "safety-add", "add": 10}),
        path,
        out,
        progress=False,
    )
    first, second = report["numbers"]["safety-add"], report["numbers"]["safety-add-2"]
    assert first["mean"] == pytest.approx(data.mean() + 1, rel=1e-6)
    assert second["mean"] == pytest.approx(data.mean() + 11, rel=1e-6)
    assert second["seen"] == ["safety-add"]  # ctx.results keyed the same way
    assert [s["key"] for s in report["stages"]] == ["safety-add", "safety-add-2"]
    on_disk = json.loads((out / "report.json").read_text())
    assert set(on_disk["numbers"]) == {"safety-add", "safety-add-2"}
    page = (out / "report.html").read_text()
    assert f"{data.mean() + 1:.5g}" in page and f"{data.mean() + 11:.5g}" in page


# ---------------------------------------------------------------- no empty folders
def test_refused_or_failed_run_leaves_no_empty_output_folder(tmp_path, stack):
    path, _ = stack
    out = tmp_path / "new" / "out"
    with pytest.raises(ValueError, match="bad value"):
        run_pipeline(_recipe({"name": "safety-add", "fail": True}), path, out, progress=False)
    assert not out.exists()
    with pytest.raises(ValueError, match="must not be the input"):
        run_pipeline(_recipe({"name": "safety-add"}), path, path, progress=False)
    labels = tmp_path / "labels.tif"
    write_volume(labels, Volume(np.zeros((4, 8, 8), np.uint8), (10.0, 5.0, 5.0)))
    with pytest.raises(ValueError, match="needs a grayscale volume"):
        run_pipeline(_recipe({"name": "safety-add"}), labels, out, progress=False)
    assert not out.exists()


def test_damaged_cached_zarr_volume_is_recomputed(tmp_path, stack):
    path, _ = stack
    out = tmp_path / "out"
    rec = _recipe({"name": "safety-add"}, {"name": "safety-add", "add": 2})
    fresh = run_pipeline(rec, path, out, progress=False, zarr_threshold_bytes=0)
    store = out / "01-safety-add" / "volume.zarr"
    chunk = max((p for p in store.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    chunk.write_bytes(chunk.read_bytes()[:-3])
    CALLS.clear()
    report = run_pipeline(rec, path, out, progress=False, zarr_threshold_bytes=0)
    # only the damaged stage is recomputed (the same output: stage 2's cache stays valid)
    assert CALLS == ["safety-add"]
    assert [s["status"] for s in report["stages"]] == ["computed", "cached"]
    assert report["numbers"] == fresh["numbers"]
    CALLS.clear()
    run_pipeline(rec, path, out, progress=False, zarr_threshold_bytes=0)
    assert CALLS == []


def test_a_failed_write_leaves_no_temporary_stage_folder_and_names_the_stage(
    tmp_path, stack, monkeypatch
):
    """A full disk while a stage's tables are written: no ``.NN-stage.tmp`` stays behind and
    the error names the stage folder, not the temporary one."""
    import errno

    from microstructure.pipeline import runner

    def full(path, cols):
        raise OSError(errno.ENOSPC, f"{path}: could not write: No space left on device")

    monkeypatch.setattr(runner, "write_csv", full)
    out = tmp_path / "out"
    recipe = parse_recipe({"recipe": {"name": "t"}, "stage": [{"name": "porosity"}]})
    labels = tmp_path / "labels.tif"
    write_volume(
        labels,
        Volume(np.random.default_rng(0).integers(0, 2, (8, 16, 16), np.uint8), (10.0, 10.0, 10.0)),
    )
    with pytest.raises(OSError, match="01-porosity/") as err:
        run_pipeline(recipe, labels, out, progress=False)
    assert ".tmp" not in str(err.value)
    assert not list(out.glob(".*.tmp"))


def test_a_phantom_recipe_waits_for_no_one_and_generates_nothing_into_a_locked_folder(
    tmp_path, capsys
):
    """`run` of a recipe with a [phantom] section takes the run folder's lock before the
    phantom is generated: a second run is refused and writes no phantom."""
    from microstructure.cli import main

    rec = tmp_path / "r.toml"
    rec.write_text(
        '[recipe]\nname = "x"\n[phantom]\nshape = [8, 32, 32]\n[[stage]]\nname = "geometry"\n'
    )
    out = tmp_path / "out"
    out.mkdir()
    proc = _hold_lock(out)
    try:
        assert main(["run", str(rec), "--out", str(out), "--no-progress"]) == 1
        assert f"another run is using this folder (PID {proc.pid}" in capsys.readouterr().err
        assert not (out / "00-phantom").exists()
    finally:
        proc.kill()
        proc.wait()
