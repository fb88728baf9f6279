"""napari widgets: run registered pipeline stages on a layer (thin wrappers, no algorithms).

Each widget is a class taking the ``napari.viewer.Viewer`` (napari passes it when the widget
is opened from the Plugins menu). The form of each stage is a :class:`ModelForm` built with
magicgui from the stage's parameter model (the same pydantic model a recipe is validated
against), so every stage, including stages added later, gets a complete form with the names,
defaults and checks of a recipe TOML. There is one widget per stage family (``Denoise``,
``Segment``, ``MIP``, ...: :data:`FAMILIES`) and the generic ``Run stage`` offering every
registered stage. The stage runs in a worker thread; its output volume is added as a layer with
the input's scale, its numbers are shown in the widget, and MIP / granulometry curves go to the
viewer's MIP dock (opened when missing). Numbers of earlier runs in the same viewer are given
to later stages (the ``reference`` stage compares them).
"""

from __future__ import annotations

import atexit
import json
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.application import use_app
from magicgui.widgets import ComboBox, Container, Label, PushButton, TextEdit
from pydantic import ValidationError
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QScrollArea

from microstructure.napari.forms import ModelForm
from microstructure.pipeline.recipe import _format_validation_error
from microstructure.pipeline.stages import StageContext, StageOutput, available_stages
from microstructure.volume import Volume

if TYPE_CHECKING:
    import napari.viewer

__all__ = [
    "StageRunner",
    "stage_widget",
    "layer_voxel_size_nm",
    "FAMILIES",
    "MIP_DOCK_NAME",
    "GeometryWidget",
    "CurtainingWidget",
    "DenoiseWidget",
    "AlignWidget",
    "SegmentWidget",
    "CbdWidget",
    "PorosityWidget",
    "MipWidget",
    "TransportWidget",
    "ReferenceWidget",
]

#: Plugins-menu widget -> the stages it offers (the generic "Run stage" offers all)
FAMILIES: dict[str, tuple[str, ...]] = {
    "Geometry": ("geometry",),
    "Curtaining": ("curtaining",),
    "Denoise": ("denoise",),
    "Align": ("align",),
    "Segment": ("segment",),
    "CBD": ("cbd", "nanopores"),
    "Porosity": ("porosity",),
    "MIP": ("mip", "granulometry"),
    "Transport": ("mfactor",),
    "Reference": ("reference",),
}
#: colours of the scribble labels: 1 pore / rest (blue), 2 AM (gold), 3 CBD (green)
SCRIBBLE_COLOURS = {None: "transparent", 0: "transparent", 1: "#3b8fff", 2: "#ffb000", 3: "#2ecc71"}
#: display name of the MIP dock in the manifest
MIP_DOCK_NAME = "MIP curves"
_RESULTS: dict[int, dict[str, dict[str, Any]]] = {}  # numbers of each viewer's stage runs


def _viewer_key(viewer: Any) -> int:
    return id(getattr(viewer, "__wrapped__", viewer))


def layer_voxel_size_nm(layer: Any) -> tuple[float, float, float] | None:
    """The voxel size (nm) of a layer: its ``voxel_size_nm`` metadata (our reader), else its
    scale in its length units, else (unitless layers added by hand) the scale taken as nm when
    it is not all ones; ``None`` when unknown."""
    vs = layer.metadata.get("voxel_size_nm")
    if vs is not None:
        return tuple(float(v) for v in vs)  # type: ignore[return-value]
    scale = tuple(float(s) for s in layer.scale[-3:])
    units = getattr(layer, "units", None)
    if units is not None and all(str(u.dimensionality) == "[length]" for u in units[-3:]):
        return tuple(
            s * (1.0 * u).to("nm").magnitude for s, u in zip(scale, units[-3:], strict=True)
        )  # type: ignore[return-value]
    return None if all(s == 1.0 for s in scale) else scale  # type: ignore[return-value]


class StageRunner(QScrollArea):
    """Pick a stage and an input layer, set the parameters, run, get a layer and numbers.

    A scroll area around a magicgui form (``form``), so a long parameter list scrolls instead
    of squeezing the viewer's canvas.
    """

    def __init__(
        self,
        viewer: napari.viewer.Viewer,
        *,
        stage: str | None = None,
        stages: tuple[str, ...] | None = None,
    ) -> None:
        use_app()  # a QApplication before the first Qt widget
        super().__init__()
        self.form = Container(labels=True)
        self.viewer = viewer
        self.mip_dock: Any = None
        self.last_output: StageOutput | None = None
        self.last_error: str | None = None
        self._worker: Any = None
        self._work_dir: Path | None = None  # the last run's figures and tables
        known = available_stages()
        self._stages = {n: known[n] for n in (stages or known) if n in known}
        names = list(self._stages) if stages else sorted(self._stages)
        self.stage = ComboBox(name="stage", choices=names, value=stage or names[0])
        self.layer = ComboBox(name="layer", choices=self._layer_names, tooltip="3D input layer")
        self.scribbles = ComboBox(
            name="scribbles_layer",
            choices=self._scribble_choices,
            tooltip="a painted Labels layer (0 unlabelled, 1 pore/rest, 2 AM, 3 CBD) to train "
            "the trainable segmentation from; it is saved next to the run and passed as "
            "the stage's 'scribbles' file",
        )
        self.new_scribbles = PushButton(name="new_scribbles", text="New scribbles layer")
        self.new_scribbles.changed.connect(self.add_scribbles_layer)
        self.scribbles.changed.connect(self._scribbles_chosen)
        self.params: ModelForm = ModelForm(self._stages[self.stage.value].Params)
        self.run_button = PushButton(name="run", text="Run")
        self.status = Label(name="status", value="")
        self.result = TextEdit(name="numbers", value="")
        self.result.read_only = True
        self.form.extend(
            [
                self.stage,
                self.layer,
                self.scribbles,
                self.new_scribbles,
                self.params,
                self.run_button,
                self.status,
                self.result,
            ]
        )
        self.stage.changed.connect(self._build_params)
        self.run_button.changed.connect(self.run)
        self.setWidget(self.form.native)
        self.setWidgetResizable(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarAsNeeded)
        self.setMinimumSize(280, 200)
        if viewer is not None:
            for event in (viewer.layers.events.inserted, viewer.layers.events.removed):
                event.connect(self._refresh_layers)
        self._build_params()

    # ------------------------------------------------------------------ form
    def _layer_names(self, *_: Any) -> list[str]:
        if self.viewer is None:
            return []
        return [ly.name for ly in self.viewer.layers if getattr(ly.data, "ndim", 0) == 3]

    def _scribble_choices(self, *_: Any) -> list[str]:
        names = ["none"]
        if self.viewer is not None:
            from napari.layers import Labels

            names += [ly.name for ly in self.viewer.layers if isinstance(ly, Labels)]
        return names

    def _refresh_layers(self, *_: Any) -> None:
        self.layer.reset_choices()
        self.scribbles.reset_choices()

    def _build_params(self, *_: Any) -> None:
        idx = list(self.form).index(self.params)
        self.form.remove(self.params)
        self.params = ModelForm(self._stages[self.stage.value].Params)
        self.form.insert(idx, self.params)
        self.trainable = "scribbles" in self._stages[self.stage.value].Params.model_fields
        self.scribbles.visible = self.new_scribbles.visible = self.trainable

    def param_values(self) -> dict[str, Any]:
        """The form's values as recipe parameters (only those differing from the defaults)."""
        return self.params.values()

    def set_params(self, **values: Any) -> None:
        """Set form fields by name (``None`` unticks an optional field)."""
        self.params.set_values(**values)

    def _scribbles_chosen(self, *_: Any) -> None:
        """A chosen scribbles layer switches the form to the trainable segmentation."""
        fields = self.params.fields
        if self.scribbles.value not in (None, "none") and "method" in fields:
            if "trainable" in getattr(fields["method"].inner, "choices", ()):
                self.params.set_values(method="trainable")

    def add_scribbles_layer(self, *_: Any) -> Any:
        """Add an empty Labels layer over the input layer to paint training scribbles on."""
        if not self.layer.value:
            self._fail(ValueError("layer: choose the 3D layer to paint scribbles on"))
            return None
        from napari.utils.colormaps import DirectLabelColormap

        src = self.viewer.layers[self.layer.value]
        layer = self.viewer.add_labels(
            np.zeros(src.data.shape, np.uint8),
            name="scribbles",
            colormap=DirectLabelColormap(color_dict=SCRIBBLE_COLOURS),
            scale=src.scale,
            units=getattr(src, "units", None),
            axis_labels=getattr(src, "axis_labels", None),
        )
        self.scribbles.reset_choices()
        self.scribbles.value = layer.name
        return layer

    # ------------------------------------------------------------------ running
    def _prepare(self) -> tuple[Any, Volume, Any, StageContext]:
        if not self.layer.value:
            raise ValueError("layer: choose a 3D image or labels layer")
        layer = self.viewer.layers[self.layer.value]
        cls = self._stages[self.stage.value]
        values = self.param_values()
        vs = layer_voxel_size_nm(layer)
        data = layer.data[0] if getattr(layer, "multiscale", False) else layer.data
        data = np.asarray(data.compute() if hasattr(data, "compute") else data)
        volume = Volume(data, vs, {"source": f"napari layer {layer.name}"})
        work = self._new_work_dir(cls.name)
        if self.trainable and self.scribbles.value not in (None, "none"):
            values.update(self._scribbles_file(work, volume))
        try:
            params = cls.Params(**values)
        except ValidationError as exc:
            raise ValueError(_format_validation_error(f"stage {cls.name!r}", exc)) from None
        results = _RESULTS.setdefault(_viewer_key(self.viewer), {})
        ctx = StageContext(work_dir=work, input_volume=volume, progress=False, results=results)
        return cls, volume, params, ctx

    def _new_work_dir(self, name: str) -> Path:
        """A fresh work folder for this run; the previous run's folder is removed (its
        layers and numbers are in the viewer), the last one when Python exits."""
        if self._work_dir is not None:
            shutil.rmtree(self._work_dir, ignore_errors=True)
        self._work_dir = Path(tempfile.mkdtemp(prefix=f"microstructure-{name}-"))
        atexit.register(shutil.rmtree, self._work_dir, ignore_errors=True)
        return self._work_dir

    def _scribbles_file(self, work: Path, volume: Volume) -> dict[str, Any]:
        from microstructure.io import write_volume

        painted = np.asarray(self.viewer.layers[self.scribbles.value].data)
        if painted.shape != volume.shape:
            raise ValueError(
                f"scribbles_layer: {self.scribbles.value!r} has shape {painted.shape}, the "
                f"input layer {volume.shape}; paint on the layer you segment"
            )
        if not painted.any():
            raise ValueError(f"scribbles_layer: {self.scribbles.value!r} holds no painted voxel")
        path = work / "scribbles.tif"
        write_volume(path, Volume(painted.astype(np.uint8), volume.voxel_size_nm))
        return {"method": "trainable", "scribbles": str(path), "model": None}

    def run(self, *_: Any, blocking: bool = False) -> None:
        """Run the chosen stage (in a worker thread unless ``blocking``)."""
        self.last_output, self.last_error = None, None
        try:
            cls, volume, params, ctx = self._prepare()
        except Exception as exc:  # validation errors: show, never raise into Qt
            self._fail(exc)
            return
        self.status.value = f"running {cls.name} ..."

        def work() -> StageOutput:
            return cls().run(volume, params, ctx)

        if blocking:
            try:
                out = work()
            except Exception as exc:
                self._fail(exc)
                return
            self._done(out, cls.name, volume, ctx)
            return
        from napari.qt.threading import create_worker
        from napari.utils import progress

        bar = progress(total=0, desc=f"microstructure: {cls.name}")  # indeterminate
        worker = create_worker(work)
        worker.returned.connect(lambda out: self._done(out, cls.name, volume, ctx))
        worker.errored.connect(self._fail)
        worker.finished.connect(bar.close)
        self._worker = worker
        worker.start()

    def _fail(self, exc: BaseException) -> None:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        self.last_error = msg
        self.status.value = f"error: {msg}"
        if getattr(self.viewer, "window", None) is not None:
            from napari.utils.notifications import show_error

            show_error(f"microstructure {self.stage.value}: {msg}")

    def _done(self, out: StageOutput, name: str, volume: Volume, ctx: StageContext) -> None:
        from microstructure.io.tables import to_jsonable

        self.last_output = out
        ctx.results[name] = out.numbers
        self.status.value = f"{name}: done"
        self.status.tooltip = f"figures and tables in {ctx.work_dir}"
        self.result.value = json.dumps(to_jsonable(out.numbers), indent=1)[:20000]
        if out.volume is not None:
            self._add_output_layer(out.volume, f"{name} output", volume)
        if out.tables:
            dock = self.mip_dock or self._find_mip_dock(
                create=any(
                    t in out.tables for t in ("mip_curve", "granulometry_curve", "measured_curve")
                )
            )
            if dock is not None:
                dock.add_stage_tables(name, out.tables)

    def _add_output_layer(self, vol: Volume, name: str, source: Volume) -> None:
        """The stage output as a layer in the input layer's units (scaled by any resampling)."""
        from napari.layers import Layer

        from microstructure.napari.reader import layer_data, to_napari

        src = self.viewer.layers[self.layer.value]
        in_vs = source.voxel_size_nm
        out_vs = vol.voxel_size_nm or in_vs
        data, meta, kind = to_napari([layer_data(vol.data, out_vs, name, labels=vol.is_labels)])[0]
        ratio = (
            [o / i for o, i in zip(out_vs, in_vs, strict=True)] if in_vs and out_vs else [1.0] * 3
        )
        meta["scale"] = tuple(float(s) * r for s, r in zip(src.scale[-3:], ratio, strict=True))
        meta["units"] = getattr(src, "units", None)
        meta["axis_labels"] = getattr(src, "axis_labels", None)
        self.viewer.add_layer(Layer.create(data, meta, kind))

    def _find_mip_dock(self, *, create: bool) -> Any:
        """The viewer's MIP dock (opened from the manifest when missing and ``create``)."""
        from microstructure.napari.mip_dock import MipDock

        window = getattr(self.viewer, "window", None)
        if window is None:
            return None
        for widget in dict(window.dock_widgets).values():
            if isinstance(widget, MipDock):
                self.mip_dock = widget
                return widget
        if not create:
            return None
        _, widget = window.add_plugin_dock_widget("microstructure", MIP_DOCK_NAME)
        self.mip_dock = widget
        return widget


def stage_widget(viewer: napari.viewer.Viewer, name: str) -> StageRunner:
    """A stage runner preset to stage ``name`` (e.g. ``"mip"``)."""
    stages = available_stages()
    if name not in stages:
        raise ValueError(f"stage: unknown stage {name!r}; known: {', '.join(sorted(stages))}")
    return StageRunner(viewer, stage=name)


def _family(title: str, stages: tuple[str, ...]) -> type[StageRunner]:
    def __init__(self: StageRunner, viewer: napari.viewer.Viewer) -> None:
        StageRunner.__init__(self, viewer, stages=stages)

    doc = f"The {title} widget: runs the {', '.join(stages)} stage(s) on a layer."
    return type(
        f"{title}Widget",
        (StageRunner,),
        {"__init__": __init__, "__doc__": doc, "__module__": __name__},
    )


GeometryWidget = _family("Geometry", FAMILIES["Geometry"])
CurtainingWidget = _family("Curtaining", FAMILIES["Curtaining"])
DenoiseWidget = _family("Denoise", FAMILIES["Denoise"])
AlignWidget = _family("Align", FAMILIES["Align"])
SegmentWidget = _family("Segment", FAMILIES["Segment"])
CbdWidget = _family("CBD", FAMILIES["CBD"])
PorosityWidget = _family("Porosity", FAMILIES["Porosity"])
MipWidget = _family("MIP", FAMILIES["MIP"])
TransportWidget = _family("Transport", FAMILIES["Transport"])
ReferenceWidget = _family("Reference", FAMILIES["Reference"])
