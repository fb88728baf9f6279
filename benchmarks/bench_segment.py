"""Segmentation: accuracy against the phantom's truth, stability on a real volume, speed.

Usage::

    python benchmarks/bench_segment.py accuracy     # phantom tables (docs/validation_segment.md)
    python benchmarks/bench_segment.py bundled      # full recipe on data_samples/phantom
    python benchmarks/bench_segment.py nanomesh     # threshold-method stability (real volume)
    python benchmarks/bench_segment.py speed        # timing vs scikit-image (docs/performance.md)
    python benchmarks/bench_segment.py trim         # cost of the lit-front trim (shine-through)
    python benchmarks/bench_segment.py closed       # cost of the dim closed pores and back caps

All numbers are printed as markdown tables. The machine has 2 cores and other jobs may run
at the same time: absolute times vary; the ratios, measured in one process, are what count.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from microstructure.phantom import generate_phantom
from microstructure.preprocess.align import align_slices
from microstructure.preprocess.curtaining import remove_curtaining
from microstructure.preprocess.denoise import denoise_nl_means
from microstructure.segment import (
    FeatureParams,
    closed_pores,
    segment_am,
    segment_am_report,
    train_segmenter,
)

ROOT = Path(__file__).resolve().parents[1]
VALIDATION = ROOT.parent / "shared" / "validation"


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def scribbles(labels: np.ndarray, slices: tuple[int, ...], density: float = 0.05) -> np.ndarray:
    rng = np.random.default_rng(0)
    s = np.zeros(labels.shape, np.uint8)
    for z in slices:
        sel = rng.random(labels.shape[1:]) < density
        s[z][sel] = np.where(labels[z][sel] == 1, 2, 1)
    return s


def preprocess(image: np.ndarray, *, align: bool, keep_trend: bool = True):
    x = denoise_nl_means(remove_curtaining(image))
    shifts = None
    if align:
        x, shifts = align_slices(x, keep_trend=keep_trend, crop=False)
    return x, shifts


def row(name: str, mask: np.ndarray, truth: np.ndarray, sl=(slice(None),) * 3) -> str:
    m, t = mask[sl], truth[sl]
    return (
        f"| {name} | {m.mean():.4f} | {t.mean():.4f} | {m.mean() - t.mean():+.4f} "
        f"| {dice(m, t):.4f} |"
    )


HEAD = "| case / method | AM fraction | truth | error (abs.) | Dice (AM) |\n|---|---|---|---|---|"


def accuracy() -> None:
    shape = (48, 128, 128)
    print(f"## Phantom {shape}, seed 1, 60 nm voxels, default rendering (shine_through 0.5)\n")
    print(HEAD)
    ph = generate_phantom(shape, seed=1, drift_step_px=0.0)
    truth = ph.labels == 1
    x, _ = preprocess(ph.image, align=False)
    for method in ("auto", "otsu", "multiotsu", "li", "local"):
        m, info = segment_am_report(x, method=method)
        print(row(f"drift off, curtaining+NLM, {method} ({info['method_used']})", m, truth))
    m = segment_am(x, method="otsu", refine="local-means")
    print(row("drift off, curtaining+NLM, otsu + local-means refine", m, truth))
    xa, sh = preprocess(ph.image, align=True)
    print(
        row(
            "drift off, curtaining+NLM+align (default keep_trend)",
            segment_am(xa, method="auto"),
            truth,
        )
    )
    print(
        f"|  (align found spurious shifts up to {np.abs(sh).max():.1f} px on this undrifted "
        "stack) | | | | |"
    )
    # drifted acquisition: compare after alignment in the frame of slice 0 (= truth frame)
    ph_d = generate_phantom(shape, seed=1)
    xd, shd = preprocess(ph_d.image, align=True, keep_trend=False)
    err = np.abs(shd - ph_d.shifts_px).max()
    mrg = int(np.ceil(np.abs(shd).max())) + 2
    sl = (slice(None), slice(mrg, -mrg), slice(mrg, -mrg))
    print(
        row(
            f"drift on, +align (keep_trend=False), interior; shift error {err:.1f} px",
            segment_am(xd, method="auto"),
            ph_d.labels == 1,
            sl,
        )
    )
    m_true = segment_am(preprocess(ph_d.image, align=False)[0], method="auto")
    from scipy import ndimage

    undone = (
        np.stack(
            [
                ndimage.shift(m_true[z].astype(np.float32), -ph_d.shifts_px[z], order=1)
                for z in range(shape[0])
            ]
        )
        > 0.5
    )
    print(
        row(
            "drift on, undone with the TRUE shifts (alignment upper bound), interior",
            undone,
            ph_d.labels == 1,
            sl,
        )
    )
    # closed pores of the default segmentation vs truth (drift off)
    m = segment_am(x, method="auto")
    found = closed_pores(m)
    tp = np.count_nonzero(found & ph.closed_pores)
    print(
        f"\nClosed pores (drift off, auto): truth {np.count_nonzero(ph.closed_pores)} voxels, "
        f"found {np.count_nonzero(found)}, "
        f"recall {tp / max(1, np.count_nonzero(ph.closed_pores)):.3f}, "
        f"precision {tp / max(1, np.count_nonzero(found)):.3f}\n"
    )

    print("## Strong shine-through: trainable random forest vs plain Otsu (drift off)\n")
    print("Scribbles: a random 5 % of the pixels of slices 6, 24, 42, labelled from the truth.")
    print(
        "Dice over the unpainted slices; 'transfer' = model trained on seed 1, applied to seed 2.\n"
    )
    print("| shine_through | method | AM fraction error | Dice (AM, unpainted slices) |")
    print("|---|---|---|---|")
    painted = (6, 24, 42)
    keep = np.ones(shape[0], bool)
    keep[list(painted)] = False
    for st in (0.5, 1.0, 2.0):
        pa = generate_phantom(shape, seed=1, drift_step_px=0.0, shine_through=st)
        pb = generate_phantom(shape, seed=2, drift_step_px=0.0, shine_through=st)
        xa_, _ = preprocess(pa.image, align=False)
        xb_, _ = preprocess(pb.image, align=False)
        tb = pb.labels == 1
        res = {
            "otsu": segment_am(xb_, method="otsu"),
            "auto": segment_am(xb_, method="auto"),
        }
        own = train_segmenter(xb_, scribbles(pb.labels, painted))
        res["trainable (own scribbles)"] = segment_am(xb_, method="trainable", model=own)
        own2d = train_segmenter(
            xb_, scribbles(pb.labels, painted), features=FeatureParams(context_slices=())
        )
        res["trainable, no 3D context"] = segment_am(xb_, method="trainable", model=own2d)
        tr = train_segmenter(xa_, scribbles(pa.labels, painted))
        res["trainable (transfer)"] = segment_am(xb_, method="trainable", model=tr)
        for name, m in res.items():
            print(
                f"| {st} | {name} | {m.mean() - tb.mean():+.4f} | {dice(m[keep], tb[keep]):.4f} |"
            )


def bundled() -> None:
    """Full default chain on data_samples/phantom (drift on) and Dice in the aligned frame."""
    import csv
    import json
    import tempfile

    from scipy import ndimage

    from microstructure.io import read_volume
    from microstructure.pipeline import parse_recipe, run_pipeline

    sample = ROOT / "data_samples" / "phantom"
    rec = parse_recipe(
        {
            "recipe": {"name": "bundled-segment"},
            "stage": [
                # the sample is not tilted (its metadata says so); see docs/validation_segment.md
                {"name": "geometry", "tilt_correction": "never"},
                {"name": "curtaining"},
                {"name": "denoise"},
                {"name": "align"},
                {"name": "segment"},
            ],
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        rep = run_pipeline(rec, sample / "fibsem.tif", tmp, progress=False)
        crop = rep["numbers"]["align"]["crop"]
        with open(f"{tmp}/04-align/shifts.csv") as fh:
            rows = list(csv.DictReader(fh))
        seg = read_volume(f"{tmp}/05-segment/volume.tif").data == 1
        nums = rep["numbers"]["segment"]
    applied = np.array([[float(q["applied_dy_px"]), float(q["applied_dx_px"])] for q in rows])
    truth_json = json.loads((sample / "truth.json").read_text())
    true = np.array(truth_json["shifts_px"])
    truth = read_volume(sample / "truth_labels.tif").data == 1
    resid = applied - true  # registration error of each slice (plus a constant)
    zs = np.arange(len(resid))
    lin = np.stack([np.polyval(np.polyfit(zs, resid[:, k], 1), zs) for k in range(2)], 1)
    print("## Bundled sample (96 x 192 x 192, drift on), full chain: geometry (tilt never) ->")
    print("curtaining -> denoise -> align (keep_trend) -> segment (defaults)\n")
    print(
        f"Whole aligned volume: AM fraction {nums['am_fraction']:.4f}, truth "
        f"{truth_json['phase_fractions']['am']:.4f}; closed-pore fraction "
        f"{nums['closed_pore_fraction']:.4f}, truth {truth_json['closed_porosity']:.4f}."
    )
    print(f"Alignment residual (non-linear part): max {np.abs(resid - lin).max():.2f} px.\n")
    print("| truth moved into the aligned frame by | AM fraction | truth | error | Dice |")
    print("|---|---|---|---|---|")
    y0, x0 = crop["y"][0], crop["x"][0]
    for name, off_z in (
        ("a perfect trend-keeping alignment (alignment errors count)", lin),
        ("the actual per-slice registration (segmentation alone)", resid),
    ):
        moved = np.empty(seg.shape, bool)
        for z in range(seg.shape[0]):
            off = (y0 + off_z[z, 0], x0 + off_z[z, 1])
            m = ndimage.shift(
                truth[z].astype(np.float32), (-off[0], -off[1]), order=1, mode="nearest"
            )
            moved[z] = m[: seg.shape[1], : seg.shape[2]] > 0.5
        sl = (slice(None), slice(5, -5), slice(5, -5))
        print(row(name, seg[sl], moved[sl]))


def nanomesh() -> None:
    path = VALIDATION / "nanomesh_nanopores3d.npy"
    if not path.is_file():
        print(f"{path} not available")
        return
    data = np.load(path)
    t = time.perf_counter()
    x = denoise_nl_means(data)
    dt = time.perf_counter() - t
    print(f"## nanomesh_nanopores3d.npy {data.shape}, NLM denoised ({dt:.1f} s)\n")
    print("Pore fraction = 1 - fraction above the threshold (pores are dark).\n")
    print("| method | pore fraction, threshold only | with local-means refine | refine time (s) |")
    print("|---|---|---|---|")
    cases = [
        ("auto", {}),
        ("otsu", {}),
        ("li", {}),
        ("local, block 51 px", {"method": "local", "block_size_px": 51}),
        ("local, block 101 px", {"method": "local", "block_size_px": 101}),
        ("otsu + hysteresis +-2", {"method": "otsu", "hysteresis_width": 2.0}),
        ("otsu + hysteresis +-5", {"method": "otsu", "hysteresis_width": 5.0}),
    ]
    plain, refined = [], []
    for name, kw in cases:
        kw = dict(kw) or {"method": name}
        m0 = segment_am(x, **kw)
        t = time.perf_counter()
        m1 = segment_am(x, refine="local-means", **kw)
        dt = time.perf_counter() - t
        plain.append(1 - m0.mean())
        refined.append(1 - m1.mean())
        print(f"| {name} | {plain[-1]:.4f} | {refined[-1]:.4f} | {dt:.1f} |")
    print(f"| **spread (max - min)** | **{np.ptp(plain):.4f}** | **{np.ptp(refined):.4f}** | |")


def speed() -> None:
    from skimage import filters
    from skimage.feature import multiscale_basic_features
    from skimage.future import fit_segmenter, predict_segmenter
    from sklearn.ensemble import RandomForestClassifier

    shape = (48, 128, 128)
    ph = generate_phantom(shape, seed=1, drift_step_px=0.0)
    x, _ = preprocess(ph.image, align=False)
    s = scribbles(ph.labels, (6, 24, 42))
    print(f"## Speed, phantom {shape} ({x.size / 1e6:.2f} Mvoxel), 2-core VM, other jobs running\n")
    print("| task | ours (s) | anchor | anchor (s) | ratio ours/anchor |")
    print("|---|---|---|---|---|")

    def best(f, n=3):
        ts = []
        for _ in range(n):
            t = time.perf_counter()
            f()
            ts.append(time.perf_counter() - t)
        return min(ts)

    t_ours = best(lambda: segment_am(x, method="otsu", min_speck_voxels=0, max_hole_voxels=0))
    t_sk = best(lambda: x > filters.threshold_otsu(x))
    print(
        f"| Otsu mask | {t_ours:.3f} | skimage threshold_otsu + compare | {t_sk:.3f} "
        f"| {t_ours / t_sk:.2f} |"
    )
    t_ours = best(lambda: segment_am(x, method="auto"))
    print(
        f"| auto + cleanup (specks, holes) | {t_ours:.3f} | (same anchor) | {t_sk:.3f} "
        f"| {t_ours / t_sk:.2f} |"
    )

    # trainable: ours (2D features per slice + 3D context) vs skimage.future on 3D features,
    # both with the same random forest settings, trained on the same scribbles
    def ours():
        m = train_segmenter(x, s, n_estimators=60, max_depth=20)
        return segment_am(x, method="trainable", model=m, min_speck_voxels=0, max_hole_voxels=0)

    def anchor():
        xn = (x - x.min()) / (x.max() - x.min())
        feats = multiscale_basic_features(xn, sigma_min=1, sigma_max=8)
        clf = RandomForestClassifier(
            n_estimators=60, max_depth=20, min_samples_leaf=2, n_jobs=-1, random_state=0
        )
        clf = fit_segmenter(s, feats, clf)
        return predict_segmenter(feats, clf) == 2

    t0 = time.perf_counter()
    m_ours = ours()
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    m_sk = anchor()
    t_sk = time.perf_counter() - t0
    truth = ph.labels == 1
    print(
        f"| trainable: train + predict | {t_ours:.2f} | skimage.future fit/predict_segmenter "
        f"(3D features) | {t_sk:.2f} | {t_ours / t_sk:.2f} |"
    )
    print(
        f"\nDice of the two trainable results against the truth: ours {dice(m_ours, truth):.4f}, "
        f"skimage.future {dice(m_sk, truth):.4f}"
    )


def closed_speed(shape: tuple[int, int, int] = (64, 395, 481)) -> None:
    """Cost of the dim-closed-pore search and the back-cap cones (shine-through) in the
    segment stage's call, as :func:`trim_speed`: ``segmentation`` with them and with only the
    earlier back completion (runs interleaved, best of 3 each, one process)."""
    from scipy import ndimage

    import microstructure.segment.closed_backs as cb
    from microstructure.segment import segmentation

    ph = generate_phantom(shape, seed=1, preset="realistic", drift_step_px=0.0)
    x = ndimage.gaussian_filter(ph.image.astype(np.float32) / 255.0, (0, 1, 1))
    vs = (60.0, 60.0, 60.0)
    keep_dim, keep_caps = cb.dim_closed_pores, cb.close_back_caps

    def run(new: bool) -> float:
        if not new:
            cb.dim_closed_pores = lambda arr, am, **kw: (am, {"applied": False})
            cb.close_back_caps = lambda mask: (mask, {"relabelled_voxels": 0})
        try:
            t = time.perf_counter()
            segmentation(x, method="auto", voxel_size_nm=vs, separate_particles=True)
            return time.perf_counter() - t
        finally:
            cb.dim_closed_pores, cb.close_back_caps = keep_dim, keep_caps

    def plain() -> float:  # no shine-through handling at all (the stage before issue 19)
        t = time.perf_counter()
        segmentation(x, method="auto", voxel_size_nm=vs, separate_particles=True, pore_backs="off")
        return time.perf_counter() - t

    on, off, none = [], [], []
    for _ in range(3):
        on.append(run(True))
        off.append(run(False))
        none.append(plain())
    mvox = x.size / 1e6
    print(f"## Dim closed pores and back caps, realistic phantom {shape} ({mvox:.1f} Mvoxel)\n")
    print("| segmentation | best of 3 (s) |")
    print("|---|---|")
    print(f"| back completion only (before) | {min(off):.2f} |")
    print(f"| with dim closed pores and back caps | {min(on):.2f} |")
    print(f"| ratio | {min(on) / min(off):.2f} |")
    print(f'| `pore_backs = "off"` (no shine-through steps) | {min(none):.2f} |')
    print(f"| all shine-through steps against none | {min(on) / min(none):.2f} |")


def trim_speed(shape: tuple[int, int, int] = (64, 395, 481)) -> None:
    """Cost of the lit-front trim (shine-through) in the segment stage's call: the realistic
    phantom at seed-size slices (drift off; a 1 px in-plane Gaussian stands in for the NLM),
    ``segmentation(method="auto", separate_particles=True)`` with the trim and without it
    (the closed-pore completion runs in both), runs interleaved (best of 3 each, one process),
    and the trim alone on the same mask."""
    from scipy import ndimage

    import microstructure.segment.am as am_module
    from microstructure.segment import segmentation
    from microstructure.segment.front_trim import trim_lit_fronts

    ph = generate_phantom(shape, seed=1, preset="realistic", drift_step_px=0.0)
    x = ndimage.gaussian_filter(ph.image.astype(np.float32) / 255.0, (0, 1, 1))
    vs = (60.0, 60.0, 60.0)
    keep = am_module.lit_fronts

    def run(trim: bool):
        am_module.lit_fronts = keep if trim else (lambda arr, mask, info: mask)
        try:
            t = time.perf_counter()
            seg = segmentation(x, method="auto", voxel_size_nm=vs, separate_particles=True)
            return time.perf_counter() - t, seg
        finally:
            am_module.lit_fronts = keep

    on, off = [], []
    for _ in range(3):
        t, seg = run(True)
        on.append(t)
        off.append(run(False)[0])
    info = seg.info
    trim = info["shine_through"].get("front_trim", {})
    hi = info["grey_stats"]["class_medians"][1]
    t = time.perf_counter()
    trim_lit_fronts(x, np.asarray(seg.am), threshold=info["threshold"], solid_level=hi)
    t_alone = time.perf_counter() - t
    print(f"## Lit-front trim, realistic phantom {shape} ({x.size / 1e6:.1f} Mvoxel)\n")
    print("| segmentation | best of 3 (s) |")
    print("|---|---|")
    print(f"| without the trim | {min(off):.2f} |")
    print(f"| with the trim ({trim.get('trimmed_fraction', 0.0):.2%} trimmed) | {min(on):.2f} |")
    print(f"| the trim alone | {t_alone:.2f} |")
    print(f"\nratio with / without: {min(on) / min(off):.3f}")


if __name__ == "__main__":
    what = sys.argv[1:] or ["accuracy", "bundled", "nanomesh", "speed"]
    for w in what:
        {
            "accuracy": accuracy,
            "bundled": bundled,
            "nanomesh": nanomesh,
            "speed": speed,
            "trim": trim_speed,
            "closed": closed_speed,
        }[w]()
        print()
