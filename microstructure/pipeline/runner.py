"""Run a recipe: stage folders, cache by hash, resume, provenance, report.

Layout of an output folder::

    OUT/01-porosity/params.json   parameters, hash key, timing, peak memory, numbers
    OUT/01-porosity/volume.tif    the stage's output volume (when it produces one; above
                                  ``zarr_threshold_bytes`` volume.zarr, an OME-Zarr image
                                  with a resolution pyramid that napari and Fiji open)
    OUT/01-porosity/*.csv         the stage's tables
    OUT/.01-porosity.chunks/      resumable chunked work of a stage that failed or was
                                  interrupted (``StageContext.chunk_dir``; removed on success)
    OUT/figures/*.png             figures of all stages
    OUT/report.json               every stage's numbers and the run's quality summary
                                  (``"quality"``), rewritten after each stage
    OUT/report.html               a static summary page (quality flags first, numbers,
                                  figures) after the run
    OUT/figures/3d_labels.png     3D snapshot of the final labels volume (when there is one)

Each stage's key hashes the input data, the voxel size, the label map, every upstream
stage's name, version and parameters, and the content (sha256) of every file a stage reads
(scribbles, models, measured curves: :meth:`~microstructure.pipeline.stages.Stage.input_files`),
so editing such a file recomputes the stage. ``params.json`` records the sha256 of every file
the stage wrote (``"checksums"``); they are verified before a cached stage is reused, and a
damaged or truncated output is recomputed with a log line. A stage whose folder holds a
finished ``params.json`` with the same key and intact outputs is skipped (its volume is
loaded only if a later stage needs it), so an interrupted run resumes where it stopped;
``force=True`` recomputes everything. A stage works in a temporary folder that is renamed
into place only when it has finished, and the input is never written. Chunked stages also
resume inside a stage: their ``ctx.chunk_dir`` (Zarr intermediates with a completion marker
per chunk) survives a failure and is handed to the rerun of the same stage key, so finished
chunks are not recomputed. A stage's lazy (Dask) result is written there block by block too
(:func:`~microstructure.parallel.store.write_volume_resumable`), so a slab-wise stage
interrupted while its result is written resumes at the first unwritten slab.

The run folder is safe to reuse (:mod:`microstructure.pipeline.run_folder`): an ``--out``
that equals or contains an input (the stack, or a file a stage reads), or lies inside an
input slice folder, is refused before anything is written; the folder is created only after
every check passed (and removed again when this run created it and failed before any stage
finished); ``OUT/.lock`` keeps a second run out (naming the holder's PID); ``NN-stage``
folders that are not this recipe's are refused unless ``force``, which removes them. Numbers
are keyed per stage (``report["numbers"]``, ``StageContext.results``): a stage's name, or
``NAME-2``, ``NAME-3`` for later stages of the same name.

Zarr-stored volumes (a ``.zarr`` input, or an upstream output stored as ``volume.zarr``) are
opened lazily as Dask arrays and handed as such to stages with ``supports_dask = True``; every
other stage receives the data loaded into memory, as before. Before any stage runs, the stages
that will run chunked are asked whether their options allow it
(:func:`~microstructure.pipeline.chunked_check.check_chunked_stages`).

:func:`run_pipeline` is four steps: look a stage up in the cache (:func:`_lookup_cached`),
execute it (:func:`_execute`), write its folder (:func:`_compute_stage`) and report it
(:func:`_report_stage`, :func:`_finish_report`).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from microstructure.io.stacks import read_volume, write_volume
from microstructure.io.tables import to_jsonable, write_csv, write_json
from microstructure.pipeline._run_parts import (
    check_chain,
    final_kind,
    hash_volume,
    new_report,
    stage_quality_text,
)
from microstructure.pipeline.chunked_check import check_chunked_phantom, check_chunked_stages
from microstructure.pipeline.html_report import write_html_report
from microstructure.pipeline.memory import PeakMemory, check_run_memory, check_stage_memory
from microstructure.pipeline.progress import StageProgress
from microstructure.pipeline.recipe import Recipe, StageSpec, load_recipe
from microstructure.pipeline.run_folder import (
    check_paths,
    file_sha256,
    folder_checksums,
    remove_stage_folders,
    run_folder_lock,
    stale_stage_folders,
    verify_checksums,
)
from microstructure.pipeline.stages import (
    ZARR_THRESHOLD_BYTES,
    StageContext,
    StageOutput,
    is_lazy,
    volume_kind,
)
from microstructure.plot import labels_3d_figure
from microstructure.quality import quality_summary
from microstructure.volume import Volume

__all__ = [
    "run_pipeline",
    "check_chunked_stages",
    "check_chunked_phantom",
    "hash_volume",
    "stage_metadata",
    "PARAMS_FILE",
    "VOLUME_FILE",
    "ZARR_THRESHOLD_BYTES",
]

PARAMS_FILE = "params.json"
VOLUME_FILE = "volume.tif"
ZARR_VOLUME_FILE = "volume.zarr"  #: an OME-Zarr image (NGFF 0.4, with a pyramid)
LEVEL0_FILE = ".level0.zarr"  #: a lazy result's resumable store before its OME-Zarr copy
SNAPSHOT_FIGURE = "3d_labels.png"
CHUNKS_SUFFIX = ".chunks"
CHUNK_KEY_FILE = "stage_key.txt"


def _is_zarr_path(path: Path) -> bool:
    return path.suffix.lower() == ".zarr" or (path.is_dir() and (path / "zarr.json").is_file())


def _read(path: Path, **kwargs: Any) -> Volume:
    """Read a stack; Zarr stores lazily (Dask array), everything else into memory."""
    return read_volume(path, lazy=_is_zarr_path(path), **kwargs)


def _in_memory(volume: Volume) -> Volume:
    """The volume with its data as a numpy array (computed from a Dask array if needed)."""
    if not is_lazy(volume.data):
        return volume
    return Volume(np.asarray(volume.data.compute()), volume.voxel_size_nm, dict(volume.metadata))


def _chunk_dir(out: Path, dirname: str, key: str, *, fresh: bool = False) -> Path:
    """The stage's resumable chunk folder; emptied when it belongs to another stage key (or
    when ``fresh``)."""
    folder = out / f".{dirname}{CHUNKS_SUFFIX}"
    marker = folder / CHUNK_KEY_FILE
    if folder.exists() and (fresh or not (marker.is_file() and marker.read_text() == key)):
        shutil.rmtree(folder)
    folder.mkdir(exist_ok=True)
    marker.write_text(key)
    return folder


def _drop_unused(folder: Path) -> None:
    """Remove a chunk folder the stage did not use (only the key file in it)."""
    if folder.is_dir() and [p.name for p in folder.iterdir()] == [CHUNK_KEY_FILE]:
        shutil.rmtree(folder, ignore_errors=True)


def _stage_files(spec: StageSpec) -> list[tuple[str, str]]:
    """``(dotted key, path)`` of the files the stage reads besides its input volume."""
    return list(spec.stage().input_files(spec.params))


def _stage_key(previous: str, spec: StageSpec, recipe: Recipe) -> str:
    """The stage's cache key: upstream key, name, version, parameters, electrode orientation
    and the content (sha256) of every file the stage reads."""
    h = hashlib.blake2b(digest_size=20)
    params = spec.params.model_dump(mode="json")
    h.update(previous.encode())
    doc: dict[str, Any] = {
        "stage": spec.name,
        "version": spec.stage.version,
        "params": params,
        "electrode": [recipe.thickness_axis, recipe.top_at],
    }
    files = {}
    for key, path in _stage_files(spec):
        p = Path(path).expanduser()
        files[key] = file_sha256(p) if p.exists() else "missing"
    if files:
        doc["files"] = files
    h.update(json.dumps(doc, sort_keys=True).encode())
    return h.hexdigest()


def _load_finished(stage_dir: Path, key: str) -> dict[str, Any] | None:
    meta_path = stage_dir / PARAMS_FILE
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, ValueError):
        return None
    if meta.get("key") != key or meta.get("status") != "finished":
        return None
    vol = meta.get("volume")
    if vol and not (stage_dir / vol).exists():
        return None
    return meta


def _log(log: Callable[[str], None], line: str) -> None:
    """Hand ``line`` to ``log`` with the progress bars cleared and redrawn after it, so a
    ``print`` does not garble them (:meth:`tqdm.tqdm.external_write_mode`)."""
    from tqdm.auto import tqdm

    with tqdm.external_write_mode():
        log(line)


def _replace_dir(tmp: Path, final: Path) -> None:
    if final.exists():
        old = final.with_name(f".{final.name}.old")
        if old.exists():
            shutil.rmtree(old)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


# ------------------------------------------------------------------------------ the run
@dataclass
class _Run:
    """What the steps of one run share."""

    recipe: Recipe
    out: Path
    volume: Volume  #: the run's input
    report: dict[str, Any]
    force: bool
    progress: bool
    zarr_threshold_bytes: int
    #: numbers of the stages so far, by stage name (``StageContext.results``)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the volume the next stage receives (a loader for a cached stage's stored volume)
    current: Volume | Callable[[], Volume] | None = None
    log: Callable[[str], None] | None = None
    final_kind: str = "labels"  #: kind of the volume after the last stage

    def current_volume(self) -> Volume:
        return self.current() if callable(self.current) else self.current


def _open_input(
    recipe: Recipe, src: Path, out: Path, voxel_size_nm: Any, labels: str | None
) -> Volume:
    """Check the input and output paths and read the input (Zarr lazily)."""
    if not src.exists():
        raise FileNotFoundError(f"{src}: input stack not found")
    inputs = [("stack", src)]
    for spec in recipe.stages:
        inputs += [(f"stage {spec.index} {spec.name!r} {k}", p) for k, p in _stage_files(spec)]
    check_paths(out, inputs)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder")
    return _read(
        src,
        voxel_size_nm=voxel_size_nm if voxel_size_nm is not None else recipe.input_voxel_size_nm,
        labels=labels if labels is not None else recipe.input_labels,
    )


def _lookup_cached(run: _Run, spec: StageSpec, key: str) -> dict[str, Any] | None:
    """The finished stage's metadata when its folder matches ``key`` (and hand its stored
    volume, loaded only when needed, to the next stage)."""
    stage_dir = run.out / spec.dirname
    meta = None if run.force else _load_finished(stage_dir, key)
    if meta is not None:
        damaged = verify_checksums(stage_dir, meta.get("checksums"))
        if damaged is not None:
            if run.log is not None:
                _log(
                    run.log,
                    f"[{spec.index}/{len(run.recipe.stages)}] {spec.name}: cached result not "
                    f"trusted ({stage_dir}: {damaged}); recomputing",
                )
            return None
    if meta is not None and meta.get("volume"):
        path = stage_dir / meta["volume"]
        run.current = lambda path=path: _read(path)  # noqa: E731
    return meta


def _execute(
    run: _Run, spec: StageSpec, tmp: Path, chunks: Path
) -> tuple[StageOutput, float, PeakMemory]:
    """Run one stage in its temporary folder; ``(result, seconds, peak memory)``."""
    vol_in = run.current_volume()
    # refused before it allocates (or loads a stored volume) when the estimate does not fit
    check_stage_memory(spec, vol_in, run.zarr_threshold_bytes)
    if not getattr(spec.stage, "supports_dask", False):
        vol_in = _in_memory(vol_in)
    run.current = vol_in
    progress = StageProgress(
        run.progress, desc=f"[{spec.index}/{len(run.recipe.stages)}] {spec.name}"
    )
    ctx = StageContext(
        work_dir=tmp,
        thickness_axis=run.recipe.thickness_axis,
        top_at=run.recipe.top_at,
        input_volume=run.volume,
        results=run.results,
        progress=progress,
        chunk_dir=chunks,
        zarr_threshold_bytes=run.zarr_threshold_bytes,
    )
    t0 = time.perf_counter()
    try:
        with PeakMemory() as pm, progress:
            result = spec.stage().run(vol_in, spec.params, ctx)
    except (ValueError, FileNotFoundError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        _drop_unused(chunks)
        raise ValueError(f"stage {spec.index} {spec.name!r}: {exc}") from exc
    except BaseException:
        # the chunk folder of a chunked stage is kept: the rerun resumes from it
        shutil.rmtree(tmp, ignore_errors=True)
        _drop_unused(chunks)
        raise
    return result, time.perf_counter() - t0, pm


def _write_volume(
    run: _Run, spec: StageSpec, result: StageOutput, tmp: Path, chunks: Path
) -> str | None:
    """Write the stage's output volume into ``tmp``; its file name (None without a volume)."""
    if result.volume is None:
        return None
    big = result.volume.data.nbytes > run.zarr_threshold_bytes
    vol_file = ZARR_VOLUME_FILE if big else VOLUME_FILE
    # the stored volume names the stage that wrote it (the metadata a stage copies from its
    # input names the upstream stage); the stage's own object is not modified
    result.volume = Volume(
        result.volume.data,
        result.volume.voxel_size_nm,
        {**result.volume.metadata, **stage_metadata(spec)},
    )
    if big and is_lazy(result.volume.data):
        # a chunked stage's lazy result: block by block through the chunk folder,
        # so an interrupted write resumes at the first unwritten block; then the
        # OME-Zarr image (level 0 and its pyramid) from that store
        import dask.array as da

        from microstructure.parallel.store import write_volume_resumable

        level0 = tmp / LEVEL0_FILE
        write_volume_resumable(level0, result.volume, resume_dir=chunks / "output")
        stored = Volume(
            da.from_zarr(str(level0)), result.volume.voxel_size_nm, result.volume.metadata
        )
        write_volume(tmp / vol_file, stored, format="ome-zarr")
        shutil.rmtree(level0)
    else:
        write_volume(tmp / vol_file, result.volume, format="ome-zarr" if big else None)
    run.current = result.volume
    return vol_file


def stage_metadata(spec: StageSpec) -> dict[str, Any]:
    """What a stage's stored volume says about the stage that wrote it: ``stage`` (its
    recipe name), ``stage_index`` (1-based position in the recipe), ``stage_key`` (unique per
    stage: ``NAME`` or ``NAME-2``) and ``stage_version``."""
    return {
        "stage": spec.name,
        "stage_index": spec.index,
        "stage_key": spec.key,
        "stage_version": spec.stage.version,
    }


def _compute_stage(run: _Run, spec: StageSpec, key: str, previous_key: str) -> dict[str, Any]:
    """Execute a stage and write its folder (atomically); its ``params.json`` metadata."""
    stage_dir = run.out / spec.dirname
    tmp = run.out / f".{spec.dirname}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    chunks = _chunk_dir(run.out, spec.dirname, key, fresh=run.force)
    try:
        result, seconds, pm = _execute(run, spec, tmp, chunks)
        vol_file = _write_volume(run, spec, result, tmp, chunks)
        meta = _finish_stage_folder(spec, key, previous_key, result, tmp, vol_file, seconds, pm)
        _replace_dir(tmp, stage_dir)
    except BaseException as exc:
        # nothing half-written stays behind (a full disk, an interrupt); the chunk folder
        # stays for the rerun. An OSError names the stage folder, not the temporary one.
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError) and str(tmp) in str(exc):
            named = type(exc)(str(exc).replace(str(tmp), str(stage_dir)))
            named.errno = exc.errno
            raise named from None
        raise
    shutil.rmtree(chunks, ignore_errors=True)
    if vol_file == ZARR_VOLUME_FILE and hasattr(result.volume.data, "compute"):
        # a lazy (Dask) result: later stages read the stored Zarr instead of
        # recomputing the stages before it
        run.current = lambda path=stage_dir / vol_file: _read(path)  # noqa: E731
    return meta


def _finish_stage_folder(
    spec: StageSpec,
    key: str,
    previous_key: str,
    result: Any,
    tmp: Path,
    vol_file: str | None,
    seconds: float,
    pm: Any,
) -> dict[str, Any]:
    """Write a computed stage's tables and ``params.json`` into its temporary folder."""
    for name, cols in result.tables.items():
        write_csv(tmp / f"{name}.csv", cols)
    meta = {
        "status": "finished",
        "stage": spec.name,
        "index": spec.index,
        "version": spec.stage.version,
        "key": key,
        "previous_key": previous_key,
        "params": spec.params.model_dump(mode="json"),
        "seconds": round(seconds, 4),
        "peak_rss_mb": round(pm.peak_mb, 1),
        "added_rss_mb": round(pm.added_mb, 1),
        "finished_at": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "volume": vol_file,
        "tables": [f"{n}.csv" for n in result.tables],
        "figures": list(result.figures),
        "numbers": to_jsonable(result.numbers),
        # sha256 of every file written, verified before the stage is reused from the cache
        "checksums": folder_checksums(tmp),
    }
    write_json(tmp / PARAMS_FILE, meta)
    return meta


def _report_stage(
    run: _Run,
    spec: StageSpec,
    meta: dict[str, Any],
    status: str,
    log: Callable[[str], None] | None,
) -> None:
    """Copy the stage's figures, add its numbers to the report, update the run's quality
    summary and rewrite ``report.json``."""
    stage_dir = run.out / spec.dirname
    fig_dir = run.out / "figures"
    for old in fig_dir.glob(f"{spec.dirname}-*"):  # figures of an earlier run of this folder
        old.unlink(missing_ok=True)
    figures = []
    for fig in meta.get("figures", []):
        src_fig = stage_dir / fig
        if src_fig.exists():
            shutil.copyfile(src_fig, fig_dir / f"{spec.dirname}-{fig}")
            figures.append(f"{spec.dirname}-{fig}")
    numbers = meta.get("numbers", {})
    run.results[spec.key] = numbers
    run.report["numbers"][spec.key] = numbers
    run.report["stages"].append(
        {
            "index": spec.index,
            "name": spec.name,
            "key": spec.key,
            "dir": spec.dirname,
            "figures": figures,
            "status": status,
            "seconds": meta.get("seconds"),
            "peak_rss_mb": meta.get("peak_rss_mb"),
            "volume": meta.get("volume"),
        }
    )
    run.report["quality"] = quality_summary(run.report["numbers"])
    write_json(run.out / "report.json", {**run.report, "status": "running"})
    if log is not None:
        _log(
            log,
            f"[{spec.index}/{len(run.recipe.stages)}] {spec.name}: {status}"
            + (f" in {meta.get('seconds', 0):.2f} s" if status == "computed" else "")
            + stage_quality_text(spec.key, numbers),
        )


def _finish_report(run: _Run) -> None:
    """The 3D snapshot of the final labels, ``report.json`` (finished) and ``report.html``."""
    snapshot = run.out / "figures" / SNAPSHOT_FIGURE
    if run.final_kind != "labels":
        snapshot.unlink(missing_ok=True)  # an earlier run's, not this one's
    elif any(st["status"] == "computed" for st in run.report["stages"]) or not snapshot.exists():
        final = run.current_volume()
        if volume_kind(final) == "labels":
            final = _in_memory(final)
            labels_3d_figure(snapshot, final.data, voxel_size_nm=final.voxel_size_nm or 1.0)
        else:
            snapshot.unlink(missing_ok=True)
    run.report["status"] = "finished"
    run.report["quality"] = quality_summary(run.report["numbers"])
    write_json(run.out / "report.json", run.report)
    write_html_report(run.out, to_jsonable(run.report))


def run_pipeline(
    recipe: Recipe | str | os.PathLike,
    input_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    voxel_size_nm: Any = None,
    labels: str | None = None,
    force: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = None,
    zarr_threshold_bytes: int = ZARR_THRESHOLD_BYTES,
) -> dict[str, Any]:
    """Run every stage of ``recipe`` on the stack at ``input_path``, writing into ``out_dir``.

    Parameters
    ----------
    recipe
        A :class:`Recipe` or the path of a recipe TOML file.
    input_path
        The input stack (any format :func:`microstructure.io.read_volume` reads).
    out_dir
        Output folder (created if needed). Must not be the input itself.
    voxel_size_nm, labels
        Override the voxel size and give a label map for the input (else the recipe's
        ``[input]`` values, else the file metadata).
    force
        Recompute every stage even when a cached result matches, and remove stage folders
        that are not this recipe's (without it they are refused).
    progress
        Show progress bars on stderr.
    log
        Called with one human line per stage (e.g. ``print``).
    zarr_threshold_bytes
        Stage output volumes larger than this are written as chunked, compressed Zarr
        (``volume.zarr``) instead of TIFF (default 2 GiB; 0 stores every volume as Zarr).
        Stages that can run chunked do so on inputs above it; a stage option that cannot run
        chunked is refused before any work (:func:`check_chunked_stages`).

    Returns
    -------
    dict
        The report, also written to ``out_dir/report.json``.

    Raises
    ------
    ValueError
        One line, before any work: an invalid recipe chain or chunked option, an ``out_dir``
        overlapping an input, stage folders of another recipe (without ``force``), or
        :class:`~microstructure.pipeline.run_folder.RunFolderLocked` while another run holds
        ``out_dir``.
    """
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    src = Path(input_path)
    out = Path(out_dir)
    volume = _open_input(recipe, src, out, voxel_size_nm, labels)
    kind = volume_kind(volume)
    check_chain(recipe, kind)
    check_chunked_stages(
        recipe,
        tuple(volume.shape),
        volume.data.dtype,
        kind=kind,
        zarr_threshold_bytes=zarr_threshold_bytes,
    )
    key = hash_volume(volume) + json.dumps(volume.metadata.get("label_map"), sort_keys=True)
    input_key = hashlib.blake2b(key.encode(), digest_size=20).hexdigest()
    # the folder is created only now that everything was validated
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        with run_folder_lock(out):
            stale = stale_stage_folders(out, [spec.dirname for spec in recipe.stages])
            if stale and not force:
                raise ValueError(
                    f"--out {out}: holds stage folders not in this recipe ({', '.join(stale)}), "
                    "e.g. from another recipe; pass --force to remove them or choose another --out"
                )
            remove_stage_folders(out, stale)
            return _run_stages(
                recipe,
                src,
                out,
                volume,
                input_key,
                kind,
                force=force,
                progress=progress,
                log=log,
                zarr_threshold_bytes=zarr_threshold_bytes,
            )
    except BaseException:
        if created:
            _remove_if_empty(out)
        raise


def _check_memory(run: _Run, input_key: str) -> None:
    """Refuse the run before any stage runs when a stage that is not cached would not fit the
    available memory (estimated from the input's shape; each stage checks its real input
    again before it runs)."""
    previous, todo = input_key, []
    for spec in run.recipe.stages:
        key = _stage_key(previous, spec, run.recipe)
        if run.force or _load_finished(run.out / spec.dirname, key) is None:
            todo.append(spec)
        previous = key
    check_run_memory(
        todo,
        tuple(run.volume.shape),
        run.volume.data.dtype,
        zarr_threshold_bytes=run.zarr_threshold_bytes,
        source=str(run.recipe.path),
    )


def _remove_if_empty(out: Path) -> None:
    """Remove a run folder this run created when the run failed before any stage finished
    (and left no resumable chunk folder): a refused or failed run leaves no empty folders."""
    if not out.is_dir():
        return
    names = {p.name for p in out.iterdir()}
    if names <= {"figures", "report.json"} and not any((out / "figures").glob("*")):
        shutil.rmtree(out, ignore_errors=True)


def _run_stages(
    recipe: Recipe,
    src: Path,
    out: Path,
    volume: Volume,
    input_key: str,
    kind: str,
    *,
    force: bool,
    progress: bool,
    log: Callable[[str], None] | None,
    zarr_threshold_bytes: int,
) -> dict[str, Any]:
    """Run the stages in the locked, validated run folder ``out``; the report."""
    (out / "figures").mkdir(exist_ok=True)
    run = _Run(
        recipe=recipe,
        out=out,
        volume=volume,
        report=new_report(recipe, src, volume, input_key),
        force=force,
        progress=progress,
        zarr_threshold_bytes=zarr_threshold_bytes,
        current=volume,
        log=log,
        final_kind=final_kind(recipe, kind),
    )
    _check_memory(run, input_key)
    write_json(out / "report.json", {**run.report, "status": "running"})

    from tqdm.auto import tqdm

    previous_key = input_key
    bar = tqdm(recipe.stages, desc="stages", unit="stage", disable=None if progress else True)
    for spec in bar:
        bar.set_postfix_str(spec.name)
        key = _stage_key(previous_key, spec, recipe)
        meta = _lookup_cached(run, spec, key)
        status = "cached" if meta is not None else "computed"
        if meta is None:
            meta = _compute_stage(run, spec, key, previous_key)
        _report_stage(run, spec, meta, status, log)
        previous_key = key
    _finish_report(run)
    return run.report
