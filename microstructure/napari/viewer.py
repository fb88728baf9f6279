"""``microstructure view``: a napari viewer with a stack, an OME-Zarr image or a run folder.

The layers come from our reader (lazy Dask data, scale in micrometres, axes z, y, x); a run
folder opens in 3D with only the input and the final labels visible, and the MIP dock shows
the run's curves. The stage runner and the MIP dock are docked and linked (curves of stages
run from the widget go to the dock).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["open_viewer"]


def open_viewer(
    path: str | None, *, show: bool = True, ndisplay: int | None = None
) -> tuple[Any, Any, Any]:
    """A napari viewer with ``path`` opened, the stage runner and the MIP dock.

    Parameters
    ----------
    path
        A stack, labels volume, OME-Zarr image or run folder (``None``: an empty viewer).
    show
        Show the window (``False`` for tests and scripts).
    ndisplay
        2 or 3; default 3 for a run folder (the final labels in 3D), else 2.

    Returns
    -------
    (viewer, stage runner widget, MIP dock widget)

    Raises
    ------
    ValueError
        When napari (the ``napari`` extra) is not installed, or the path cannot be read.
    """
    try:
        import napari
    except ImportError:
        raise ValueError(
            "napari is not installed: pip install 'microstructure[napari]' to use view"
        ) from None
    from napari.layers import Layer

    from microstructure.napari.mip_dock import MipDock
    from microstructure.napari.reader import AXES, is_run_dir, read_layers, to_napari
    from microstructure.napari.widgets import StageRunner

    viewer = napari.Viewer(show=show, title="microstructure")
    run = path is not None and is_run_dir(path)
    if path is not None:
        for data, meta, kind in to_napari(read_layers(path)):
            viewer.add_layer(Layer.create(data, meta, kind))
        viewer.dims.axis_labels = AXES
        viewer.canvas.overlays.scale_bar.visible = True  # units from the layers (um)
    runner = StageRunner(viewer)
    dock = MipDock(viewer)
    runner.mip_dock = dock
    if run:
        dock.add_run_folder(Path(path))
        visible = [ly.name for ly in viewer.layers if ly.visible]
        if visible:  # the stage set to mip, the input the final labels
            runner.stage.value = "mip"
            runner.layer.value = visible[-1]
    viewer.window.add_dock_widget(runner, name="Run stage", area="right")
    viewer.window.add_dock_widget(dock, name="MIP curves", area="bottom")
    viewer.dims.ndisplay = ndisplay or (3 if run else 2)
    return viewer, runner, dock
