"""Peak memory of one stage of the main recipe on the input it had in a run folder, cropped.

The bytes-per-voxel factors in ``microstructure.pipeline.memory.STAGE_BYTES_PER_VOXEL`` were
measured with this script: each stage in its own process at two crop sizes (e.g. FRAC 0.5 and
1.0 of a 96 x 192 x 192 sample run), the slope between the two from both the resident memory
and tracemalloc, the larger of the two, plus 25 %.

Usage::

    microstructure run pipelines/fibsem_nmc622.toml --input data_samples/phantom/fibsem.tif \
        --out RUN
    python benchmarks/bench_stage_memory.py RUN STAGE_INDEX FRAC [KEY=VALUE ...]

``KEY=VALUE`` overrides a parameter of the stage (JSON values), e.g. the M-factor with a
conducting CBD (face-conductance operator): ``... RUN 11 1.0 cbd_relative_diffusivity=0.1``.
"""

from __future__ import annotations

import gc
import json
import sys
import tempfile
import tracemalloc
from pathlib import Path

import numpy as np

from microstructure.io import read_volume
from microstructure.pipeline.memory import PeakMemory
from microstructure.pipeline.recipe import load_recipe
from microstructure.pipeline.stages import StageContext
from microstructure.volume import Volume

ROOT = Path(__file__).resolve().parents[1]


def main(run: Path, idx: int, frac: float, overrides: dict | None = None) -> dict:
    recipe = load_recipe(ROOT / "pipelines" / "fibsem_nmc622.toml")
    spec = recipe.stages[idx - 1]
    params = spec.params
    if overrides:
        params = type(params).model_validate({**params.model_dump(), **overrides})
    src = ROOT / "data_samples" / "phantom" / "fibsem.tif"
    for j in range(idx - 1, 0, -1):  # the latest volume written before this stage
        d = run / recipe.stages[j - 1].dirname
        if (d / "volume.tif").exists():
            src = d / "volume.tif"
            break
    vol = read_volume(src)
    data = np.asarray(vol.data)
    crop = tuple(slice(0, max(8, int(round(n * frac)))) for n in data.shape)
    data = np.ascontiguousarray(data[crop])
    vol = Volume(data, vol.voxel_size_nm, dict(vol.metadata))
    results = json.loads((run / "report.json").read_text())["numbers"]
    stage = spec.stage()
    with tempfile.TemporaryDirectory() as tmp:
        ctx = StageContext(work_dir=Path(tmp), input_volume=vol, results=results, progress=False)
        gc.collect()
        tracemalloc.start()
        with PeakMemory(interval_s=0.005) as pm:
            stage.run(vol, params, ctx)
        _, tm_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "stage": spec.name,
        "n": int(data.size),
        "dtype": str(data.dtype),
        "rss_added": pm.peak_bytes - pm.baseline_bytes,
        "tracemalloc_peak": tm_peak,
    }


if __name__ == "__main__":
    sets = dict(a.split("=", 1) for a in sys.argv[4:])
    sets = {k: json.loads(v) for k, v in sets.items()}
    print(json.dumps(main(Path(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sets)))
