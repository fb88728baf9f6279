"""napari widgets: run any registered pipeline stage on a layer (thin wrappers, no algorithms).

The form of each stage is built from its parameter model (the same pydantic model a recipe is
validated against), so every stage the pipeline knows, including stages added later, gets a
widget with the same names, defaults and checks as in a recipe TOML. The stage runs in a worker
thread; its output volume is added as a layer with the input's voxel size, its numbers are
shown in the widget, and MIP / granulometry curves go to the MIP dock when one is attached.
"""

from __future__ import annotations

import json
import tempfile
import typing
from pathlib import Path
from typing import Any, Literal

import numpy as np
from magicgui.widgets import (
    CheckBox,
    ComboBox,
    Container,
    FloatSpinBox,
    Label,
    LineEdit,
    PushButton,
    SpinBox,
    TextEdit,
)
from pydantic import ValidationError

from microstructure.pipeline.recipe import _format_validation_error
from microstructure.pipeline.stages import StageContext, StageOutput, available_stages
from microstructure.volume import Volume

__all__ = ["StageRunner", "stage_runner", "stage_widget"]


def _param_widget(name: str, field: Any) -> Any:
    """A magicgui widget for one pydantic field (JSON text for composite types)."""
    ann = field.annotation
    default = field.default
    desc = field.description or ""
    origin = typing.get_origin(ann)
    if origin is Literal:
        choices = list(typing.get_args(ann))
        return ComboBox(name=name, choices=choices, value=default, tooltip=desc)
    if ann is bool:
        return CheckBox(name=name, value=bool(default), tooltip=desc)
    if ann is int:
        return SpinBox(name=name, value=int(default), min=-(2**31), max=2**31 - 1, tooltip=desc)
    if ann is float:
        return FloatSpinBox(
            name=name, value=float(default), min=-1e12, max=1e12, step=0.01, tooltip=desc
        )
    if ann is str:
        return LineEdit(name=name, value=str(default), tooltip=desc)
    text = "" if default is None else json.dumps(default)
    return LineEdit(name=name, value=text, tooltip=f"{desc} (JSON; empty = default)")


class StageRunner(Container):
    """Pick a stage and an input layer, set the parameters, run, get a layer and numbers."""

    def __init__(self, napari_viewer: Any, *, stage: str | None = None) -> None:
        super().__init__(labels=True)
        self.viewer = napari_viewer
        self.mip_dock: Any = None
        self.last_output: StageOutput | None = None
        self.last_error: str | None = None
        self._worker: Any = None
        self._stages = available_stages()
        names = sorted(self._stages)
        self.stage = ComboBox(name="stage", choices=names, value=stage or names[0])
        self.layer = ComboBox(name="layer", choices=self._layer_names)
        self.scribbles = ComboBox(
            name="scribbles_layer",
            choices=self._scribble_choices,
            tooltip="a painted Labels layer (0 unlabelled, 1 pore/rest, 2 AM, 3 CBD) to train "
            "the trainable segmentation from; it is saved next to the run and passed as "
            "the stage's 'scribbles' file",
        )
        self.params = Container(name="parameters", labels=True)
        self.run_button = PushButton(name="run", text="Run")
        self.status = Label(name="status", value="")
        self.result = TextEdit(name="numbers", value="")
        self.result.read_only = True
        self.extend(
            [self.stage, self.layer, self.params, self.run_button, self.status, self.result]
        )
        self.stage.changed.connect(self._build_params)
        self.run_button.changed.connect(self.run)
        if napari_viewer is not None:
            for event in (
                napari_viewer.layers.events.inserted,
                napari_viewer.layers.events.removed,
            ):
                event.connect(lambda *_: self.layer.reset_choices())
                event.connect(lambda *_: self.scribbles.reset_choices())
        self._build_params()

    # ------------------------------------------------------------------ form
    def _layer_names(self, *_: Any) -> list[str]:
        if self.viewer is None:
            return []
        return [
            ly.name
            for ly in self.viewer.layers
            if getattr(ly, "data", None) is not None and getattr(ly.data, "ndim", 0) == 3
        ]

    def _scribble_choices(self, *_: Any) -> list[str]:
        names = ["none"]
        if self.viewer is not None:
            from napari.layers import Labels

            names += [ly.name for ly in self.viewer.layers if isinstance(ly, Labels)]
        return names

    def _build_params(self, *_: Any) -> None:
        self.params.clear()
        model = self._stages[self.stage.value].Params
        for name, field in model.model_fields.items():
            self.params.append(_param_widget(name, field))

    def param_values(self) -> dict[str, Any]:
        """The form's values as recipe parameters (JSON fields parsed, empty -> default)."""
        model = self._stages[self.stage.value].Params
        values: dict[str, Any] = {}
        for w in self.params:
            field = model.model_fields[w.name]
            if isinstance(w, LineEdit) and field.annotation is not str:
                text = str(w.value).strip()
                if not text:
                    continue
                try:
                    values[w.name] = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{w.name}: not valid JSON ({exc.msg})") from None
            else:
                values[w.name] = w.value
        return values

    def set_params(self, **values: Any) -> None:
        """Set form fields by name (composite values as Python objects)."""
        for name, value in values.items():
            w = self.params[name]
            if isinstance(w, LineEdit) and not isinstance(value, str):
                w.value = json.dumps(value)
            else:
                w.value = value

    # ------------------------------------------------------------------ running
    def _prepare(self) -> tuple[Any, Volume, Any, StageContext]:
        if not self.layer.value:
            raise ValueError("layer: choose a 3D image or labels layer")
        layer = self.viewer.layers[self.layer.value]
        cls = self._stages[self.stage.value]
        values = self.param_values()
        vs = layer.metadata.get("voxel_size_nm") or tuple(float(s) for s in layer.scale)
        volume = Volume(layer.data, tuple(vs), {"source": f"napari layer {layer.name}"})
        work = Path(tempfile.mkdtemp(prefix=f"microstructure-{cls.name}-"))
        if self.scribbles.value not in (None, "none"):
            if "scribbles" not in cls.Params.model_fields:
                raise ValueError(f"scribbles_layer: stage {cls.name!r} takes no scribbles")
            from microstructure.io import write_volume

            painted = np.asarray(self.viewer.layers[self.scribbles.value].data)
            if painted.shape != np.shape(layer.data):
                raise ValueError(
                    f"scribbles_layer: {self.scribbles.value!r} has shape {painted.shape}, the "
                    f"input layer {np.shape(layer.data)}; paint on the layer you segment"
                )
            path = work / "scribbles.tif"
            write_volume(path, Volume(painted.astype(np.uint8), tuple(vs)))
            values.update(method="trainable", scribbles=str(path), model=None)
        try:
            params = cls.Params(**values)
        except ValidationError as exc:
            raise ValueError(_format_validation_error(f"stage {cls.name!r}", exc)) from None
        ctx = StageContext(work_dir=work, input_volume=volume, progress=False)
        return cls, volume, params, ctx

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

    def _done(self, out: StageOutput, name: str, volume: Volume, ctx: StageContext) -> None:
        from microstructure.io.tables import to_jsonable
        from microstructure.napari.reader import _layer, _to_napari

        self.last_output = out
        self.status.value = f"{name}: done (figures in {ctx.work_dir})"
        self.result.value = json.dumps(to_jsonable(out.numbers), indent=1)[:20000]
        if out.volume is not None:
            vol = out.volume
            if vol.voxel_size_nm is None:
                vol = Volume(vol.data, volume.voxel_size_nm, vol.metadata)
            from napari.layers import Layer

            data, meta, kind = _to_napari([_layer(vol, f"{name} output")])[0]
            self.viewer.add_layer(Layer.create(data, meta, kind))
        if self.mip_dock is not None and out.tables:
            self.mip_dock.add_stage_tables(name, out.tables)


def stage_runner(napari_viewer: Any) -> StageRunner:
    """npe2 widget contribution: the stage runner for ``napari_viewer``."""
    return StageRunner(napari_viewer)


def stage_widget(napari_viewer: Any, name: str) -> StageRunner:
    """A stage runner preset to stage ``name`` (e.g. ``"mip"``)."""
    stages = available_stages()
    if name not in stages:
        raise ValueError(f"stage: unknown stage {name!r}; known: {', '.join(sorted(stages))}")
    return StageRunner(napari_viewer, stage=name)
