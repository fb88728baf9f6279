"""napari plugin: reader layers and scales, stage runner widget, MIP dock, `view`."""

from __future__ import annotations

import json

import numpy as np
import pytest

napari = pytest.importorskip("napari")
pytest.importorskip("pytestqt")

from microstructure.io import write_volume  # noqa: E402
from microstructure.napari.reader import get_reader, read_layers  # noqa: E402
from microstructure.pipeline import run_pipeline  # noqa: E402
from microstructure.plot import PHASE_COLOURS  # noqa: E402
from microstructure.volume import Phase, Volume  # noqa: E402

VS = (40.0, 50.0, 50.0)
VS_UM = tuple(v / 1000 for v in VS)  # layers carry the voxel size in micrometres


def _packing(shape=(20, 32, 32), seed=0) -> np.ndarray:
    """Overlapping AM spheres (label 1) in pore (label 0)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    lab = np.zeros(shape, np.uint8)
    for _ in range(14):
        c = rng.uniform(0, shape)
        lab[(z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= 6.0**2] = Phase.AM
    return lab


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("napari")
    write_volume(tmp / "labels.tif", Volume(_packing(), VS))
    (tmp / "r.toml").write_text(
        '[recipe]\nname = "n"\n\n[[stage]]\nname = "cbd"\nvolume_fraction = 0.08\nreport = false\n'
    )
    run_pipeline(tmp / "r.toml", tmp / "labels.tif", tmp / "out", progress=False)
    return tmp / "out"


def test_read_layers_of_a_run_dir_have_voxel_scale_and_phase_colours(run_dir) -> None:
    layers = read_layers(run_dir)
    names = [meta["name"] for _, meta, _ in layers]
    assert names == ["input: labels.tif", "01-cbd"]
    for _data, meta, kind in layers:
        assert kind == "labels" and meta["scale"] == pytest.approx(VS_UM)
        assert meta["units"] == ("um",) * 3 and meta["axis_labels"] == ("z", "y", "x")
        assert meta["colormap"]["direct"][1] == PHASE_COLOURS[1]
    assert [meta["visible"] for _, meta, _ in layers] == [True, True]  # input, final labels
    cbd = np.asarray(layers[1][0])
    assert round(float((cbd == Phase.CBD).mean()) * cbd.size) == round(0.08 * cbd.size)


def test_reader_contribution_opens_run_dir_in_a_viewer(make_napari_viewer, run_dir) -> None:
    assert get_reader(str(run_dir / "params-that-do-not-exist.xyz")) is None
    viewer = make_napari_viewer()
    layers = viewer.open(str(run_dir), plugin="microstructure")
    assert [ly.name for ly in layers] == ["input: labels.tif", "01-cbd"]
    assert tuple(viewer.layers["01-cbd"].scale) == pytest.approx(VS_UM)
    assert str(viewer.layers["01-cbd"].units[0]) == "micrometer"
    assert hasattr(viewer.layers["01-cbd"].data, "dask")  # lazy: nothing read until shown
    assert isinstance(viewer.layers["01-cbd"], napari.layers.Labels)
    np.testing.assert_allclose(
        viewer.layers["01-cbd"].get_color(int(Phase.AM))[:3],
        np.array([int(PHASE_COLOURS[1][i : i + 2], 16) for i in (1, 3, 5)]) / 255,
        atol=1e-6,
    )


def test_stage_runner_runs_cbd_then_nanopores_and_adds_layers(make_napari_viewer) -> None:
    from microstructure.napari.widgets import stage_widget

    viewer = make_napari_viewer()
    viewer.add_labels(_packing(), name="labels", scale=VS)
    w = stage_widget(viewer, "cbd")
    w.layer.value = "labels"
    w.set_params(volume_fraction=0.1, report=False)
    w.run(blocking=True)
    assert w.last_error is None, w.last_error
    out = viewer.layers["cbd output"]
    assert tuple(out.scale) == VS
    assert round(float(((out.data == 2) | (out.data == 3)).mean()) * out.data.size) == round(
        0.1 * out.data.size
    )
    numbers = json.loads(w.result.value)
    assert numbers["cbd_envelope_fraction"] == pytest.approx(0.1, abs=1 / out.data.size)

    first_work = w._work_dir
    assert first_work is not None and first_work.is_dir()
    w.stage.value = "nanopores"
    w.layer.value = "cbd output"
    w.set_params(porosity=0.5, mean_diameter_nm=120.0, std_diameter_nm=20.0, measure=False)
    w.run(blocking=True)
    assert w.last_error is None, w.last_error
    # only the last run's work folder is kept (no /tmp folder per run left behind)
    assert not first_work.exists() and w._work_dir.is_dir()
    nano = viewer.layers["nanopores output"].data
    n_cbd = int(((nano == 2) | (nano == 3)).sum())
    assert int((nano == 3).sum()) == round(0.5 * n_cbd)


def test_stage_runner_reports_bad_parameters_without_raising(make_napari_viewer) -> None:
    from microstructure.napari.widgets import stage_widget

    viewer = make_napari_viewer()
    viewer.add_labels(_packing(), name="labels", scale=VS)
    w = stage_widget(viewer, "cbd")
    w.layer.value = "labels"
    w.run(blocking=True)  # no CBD amount given
    assert w.last_output is None and "exactly one CBD amount" in w.last_error
    assert w.status.value.startswith("error:")
    with pytest.raises(ValueError, match="unknown stage"):
        stage_widget(viewer, "segmnt")


def test_mip_dock_shows_simulated_and_measured_curves(qtbot, tmp_path, validation_file) -> None:
    from microstructure.napari.mip_dock import MipDock
    from microstructure.porosimetry import simulate_mip

    dock = MipDock(None)
    qtbot.addWidget(dock)
    res = simulate_mip(_packing(), voxel_size_nm=VS, inlet="all")
    res.curve.label = "simulated"
    dock.add_curve(res.curve)
    dock.add_file(validation_file("micropy_input_mip.txt"), pressure_unit="psi")
    assert len(dock.curves) == 2
    assert len(dock.ax_cum.get_lines()) >= 2 and len(dock.ax_psd.get_lines()) == 2
    labels = [t.get_text() for t in dock.ax_cum.get_legend().get_texts()]
    assert labels[0] == "simulated" and "micropy_input_mip" in labels[1]
    dock.clear()
    assert dock.curves == [] and not dock.ax_psd.get_lines()


def test_view_opens_run_dir_with_both_docks(run_dir, make_napari_viewer) -> None:
    from microstructure.napari.viewer import open_viewer

    viewer, runner, dock = open_viewer(str(run_dir), show=False)
    try:
        assert runner.mip_dock is dock and runner.layer.choices == ("input: labels.tif", "01-cbd")
        assert [ly.name for ly in viewer.layers] == ["input: labels.tif", "01-cbd"]
        docks = set(viewer.window.dock_widgets)  # names of the dock widgets
        assert {"Run stage", "MIP curves"} <= docks
        assert viewer.dims.axis_labels == ("z", "y", "x") and viewer.dims.ndisplay == 3
        assert runner.stage.value == "mip" and runner.layer.value == "01-cbd"
    finally:
        viewer.close()


GRAY_STAGES = ["geometry", "curtaining", "denoise", "align", "segment"]


@pytest.mark.parametrize("stage", GRAY_STAGES)
def test_each_grayscale_stage_widget_runs_on_the_sample_stack(stage) -> None:
    from microstructure.io import read_volume
    from microstructure.napari.widgets import stage_widget
    from microstructure.pipeline.stages import available_stages

    if stage not in available_stages():
        pytest.skip(f"stage {stage!r} not registered")
    root = __import__("pathlib").Path(__file__).resolve().parents[2]
    vol = read_volume(root / "data_samples" / "phantom" / "fibsem.tif")
    crop = vol.data[:12, :96, :96]
    # the widget only needs the layer list: a ViewerModel has no canvas, so no OpenGL context
    # is needed for image layers on a headless machine
    viewer = napari.components.ViewerModel()
    viewer.add_image(crop, name="fibsem", scale=vol.voxel_size_nm)
    w = stage_widget(viewer, stage)
    w.layer.value = "fibsem"
    w.run(blocking=True)
    assert w.last_error is None, w.last_error
    out = viewer.layers[f"{stage} output"]
    assert out.data.ndim == 3 and out.data.shape[0] == crop.shape[0]
    # the output keeps the physical voxel size in z and x (geometry may rescale y only)
    assert out.scale[0] == pytest.approx(vol.voxel_size_nm[0])
    assert out.scale[2] == pytest.approx(vol.voxel_size_nm[2])
    if stage == "segment":
        assert isinstance(out, napari.layers.Labels)
        am = float((out.data == 1).mean())
        assert 0.4 < am < 0.8  # the sample's AM fraction is 0.60 (truth.json)


def test_segment_trains_from_a_painted_labels_layer() -> None:
    """Training from scribbles painted in napari: a Labels layer becomes the scribble volume."""
    from microstructure.napari.widgets import stage_widget
    from microstructure.phantom import generate_phantom

    ph = generate_phantom(
        (8, 64, 64),
        voxel_size_nm=60.0,
        seed=4,
        mean_diameter_um=1.2,
        sigma_log=0.3,
        min_diameter_um=0.5,
        max_diameter_um=2.5,
        drift_step_px=0.0,
    )
    truth_am = ph.labels == 1
    painted = np.zeros(ph.image.shape, np.uint8)
    rows = slice(None, None, 7)  # sparse strokes: every 7th row of slices 0 and 4
    for z in (0, 4):
        painted[z, rows] = np.where(truth_am[z, rows], 2, 1)
    viewer = napari.components.ViewerModel()
    viewer.add_image(ph.image, name="fibsem", scale=(60.0,) * 3)
    viewer.add_labels(painted, name="scribbles", scale=(60.0,) * 3)
    w = stage_widget(viewer, "segment")
    w.layer.value = "fibsem"
    w.scribbles.reset_choices()
    w.scribbles.value = "scribbles"
    w.run(blocking=True)
    assert w.last_error is None, w.last_error
    seg = viewer.layers["segment output"].data == 1
    unpainted = np.ones(seg.shape, bool)
    unpainted[[0, 4]] = False
    dice = (
        2 * (seg & truth_am)[unpainted].sum() / (seg[unpainted].sum() + truth_am[unpainted].sum())
    )
    assert dice > 0.9
    numbers = json.loads(w.result.value)
    assert numbers["segmentation"]["method"] == "trainable" and "training" in numbers
