"""Screenshot of the napari plugin in a real window (run under Xvfb on a headless machine).

    xvfb-run -a -s "-screen 0 1600x1000x24" python docs/scripts/napari_screenshot.py

Runs the labels-analysis recipe on the bundled phantom into a temporary folder, opens it with
``microstructure view``'s viewer set-up (reader, stage runner, MIP dock), simulates MIP through
the stage runner so the dock shows the curve beside the measured example file when present, and
writes ``docs/images/napari_view.png``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from microstructure.cli import open_viewer
from microstructure.pipeline import run_pipeline

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    from qtpy.QtWidgets import QApplication

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        recipe = Path(tmp) / "r.toml"
        recipe.write_text(
            '[recipe]\nname = "view-demo"\n\n[[stage]]\nname = "cbd"\nreplace_existing = true\n'
            "volume_fraction = 0.12\nreport = false\n"
        )
        run_pipeline(recipe, ROOT / "data_samples/phantom/truth_labels.tif", run, progress=False)
        viewer, runner, dock = open_viewer(str(run), show=True)
        viewer.window.resize(1500, 950)
        runner.stage.value = "mip"
        runner.layer.value = "01-cbd"
        runner.run(blocking=True)
        measured = ROOT.parent / "shared/validation/micropy_input_mip.txt"
        if measured.exists():
            dock.add_file(measured, pressure_unit="psi")
        for _ in range(20):
            QApplication.processEvents()
        out = ROOT / "docs/images/napari_view.png"
        viewer.screenshot(str(out), canvas_only=False)
        print(f"wrote {out}; runner status: {runner.status.value}")
        viewer.close()


if __name__ == "__main__":
    main()
