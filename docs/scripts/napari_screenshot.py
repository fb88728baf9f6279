"""Screenshots of the napari plugin in a real window (run under Xvfb on a headless machine).

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/scripts/napari_screenshot.py

Writes into ``docs/images/``:

- ``napari_run.png``: ``microstructure view RUN`` on a denoise -> segment -> mip run of the
  bundled sample (3D view of the final labels over the input, the run's MIP curves in the
  dock, the stage runner set to mip);
- ``napari_segment.png``: the Plugins > microstructure > Segment widget training the
  segmentation from scribbles painted on a Labels layer (2D slice view);
- ``napari_mip.png``: the Plugins > microstructure > MIP widget run on the segmented layer,
  its curve (and the measured example file, when the validation data are present) in the
  MIP curves dock.

Each screenshot's canvas size is printed: the docks must leave the canvas most of the window.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from microstructure.io import read_volume
from microstructure.napari.mip_dock import MipDock
from microstructure.napari.viewer import open_viewer
from microstructure.pipeline import run_pipeline

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "images"
SAMPLE = ROOT / "data_samples" / "phantom" / "fibsem.tif"
RECIPE = """[recipe]
name = "napari-demo"

[[stage]]
name = "denoise"

[[stage]]
name = "segment"

[[stage]]
name = "mip"
inlet = "all"
compare_inlets = []
"""


def _settle(viewer) -> None:
    from qtpy.QtWidgets import QApplication

    for _ in range(30):
        QApplication.processEvents()


def _shot(viewer, name: str) -> None:
    from napari._qt.dialogs.qt_notification import NapariQtNotification

    _settle(viewer)
    for toast in viewer.window._qt_window.findChildren(NapariQtNotification):  # noqa: SLF001
        toast.close()  # toasts (e.g. about the Qt version) would cover the canvas
    _settle(viewer)
    canvas = viewer.window._qt_viewer.canvas.native  # noqa: SLF001 - measuring only
    window = viewer.window._qt_window  # noqa: SLF001
    path = OUT / name
    viewer.screenshot(str(path), canvas_only=False)
    print(
        f"wrote {path}: window {window.width()}x{window.height()} px, "
        f"canvas {canvas.width()}x{canvas.height()} px"
    )


def run_view(tmp: Path) -> None:
    """``microstructure view RUN`` of a denoise -> segment -> mip run."""
    recipe = tmp / "demo.toml"
    recipe.write_text(RECIPE)
    run = tmp / "run"
    run_pipeline(recipe, SAMPLE, run, progress=False)
    viewer, runner, dock = open_viewer(str(run), show=True)
    viewer.window.resize(1600, 1000)
    _settle(viewer)
    viewer.reset_view()
    viewer.camera.angles = (0.0, -35.0, 55.0)
    viewer.camera.zoom *= 0.8
    _shot(viewer, "napari_run.png")
    print(
        f"  layers: {[(ly.name, ly.visible) for ly in viewer.layers]}; curves: {len(dock.curves)}"
    )
    viewer.close()


def plugin_widgets() -> None:
    """The Segment (scribbles) and MIP widgets from the Plugins menu."""
    import napari

    vol = read_volume(SAMPLE)
    crop = vol.data[:24, :, :]
    vs_um = tuple(v / 1000 for v in vol.voxel_size_nm)
    viewer = napari.Viewer(show=True, title="microstructure")
    viewer.window.resize(1600, 1000)
    viewer.add_image(crop, name="fibsem", scale=vs_um, units="um", axis_labels=("z", "y", "x"))
    seg_dock, seg = viewer.window.add_plugin_dock_widget("microstructure", "Segment")
    seg.layer.value = "fibsem"
    scribbles = seg.add_scribbles_layer()
    truth = read_volume(ROOT / "data_samples" / "phantom" / "truth_labels.tif").data[:24]
    painted = np.zeros(crop.shape, np.uint8)
    rows = slice(8, None, 24)  # sparse strokes: every 24th row of a few slices
    for z in (4, 12, 20):
        painted[z, rows] = np.where(truth[z, rows] == 1, 2, 1)
    scribbles.data = painted
    viewer.dims.set_point(0, 12 * vs_um[0])
    seg.run(blocking=True)
    print(f"  segment: {seg.status.value}")
    viewer.layers["segment output"].opacity = 0.35
    viewer.layers.move(viewer.layers.index(scribbles), len(viewer.layers))  # strokes on top
    _shot(viewer, "napari_segment.png")

    viewer.window.remove_dock_widget(seg_dock)
    # a MIP dock at the bottom: the MIP widget finds it and sends its curves there
    viewer.window.add_dock_widget(MipDock(viewer), name="MIP curves", area="bottom")
    _, mip = viewer.window.add_plugin_dock_widget("microstructure", "MIP")
    mip.layer.value = "segment output"
    mip.set_params(inlet="all", compare_inlets=[])
    mip.run(blocking=True)
    print(f"  mip: {mip.status.value}")
    measured = ROOT.parent / "shared" / "validation" / "micropy_input_mip.txt"
    if measured.exists() and mip.mip_dock is not None:
        mip.mip_dock.add_file(measured, pressure_unit="psi")
    scribbles.visible = False
    viewer.layers["segment output"].opacity = 0.7
    _shot(viewer, "napari_mip.png")
    viewer.close()


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run_view(Path(tmp))
    plugin_widgets()


if __name__ == "__main__":
    main()
