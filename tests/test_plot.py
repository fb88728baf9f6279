"""The figure layer: pyplot-free figures, atomic writes, units on every axis."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from microstructure import plot


def test_save_figure_writes_png_atomically_and_honours_the_suffix(tmp_path) -> None:
    fig = plot.new_figure((3, 2))
    ax = fig.add_subplot()
    ax.plot([0, 1], [1, 0])
    out = plot.save_figure(fig, tmp_path / "a.png")
    assert out == tmp_path / "a.png" and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = plot.save_figure(fig, tmp_path / "a.svg")
    assert svg.read_text()[:5] == "<?xml"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "a.svg"]  # no temp files


def test_save_figure_accepts_a_bare_figure(tmp_path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(2, 2))
    fig.add_subplot().imshow(np.eye(4))
    assert plot.save_figure(fig, tmp_path / "bare.png", dpi=50).stat().st_size > 100


def test_image_panels_in_um_with_a_labelled_colourbar_for_own_limits() -> None:
    rng = np.random.default_rng(0)
    img = rng.random((30, 40))
    removed = rng.standard_normal((30, 40))
    fig = plot.image_panels_figure(
        [("input", img, False), ("removed", removed, True)], "t", pixel_size_nm=(20.0, 10.0)
    )
    image_axes = [ax for ax in fig.axes if ax.images]
    assert len(image_axes) == 2
    for ax in image_axes:
        assert ax.get_xlabel() == "x (um)" and ax.get_ylabel() == "y (um)"
        # extent: 40 px * 10 nm = 0.4 um wide, 30 px * 20 nm = 0.6 um high
        assert ax.images[0].get_extent() == pytest.approx([0.0, 0.4, 0.6, 0.0])
    colourbars = [ax for ax in fig.axes if not ax.images and ax.get_ylabel()]
    assert len(colourbars) == 1 and "removed" in colourbars[0].get_ylabel()
    lo, hi = image_axes[0].images[0].get_clim()
    assert (lo, hi) == pytest.approx(tuple(np.percentile(img.astype(np.float32), [0.5, 99.5])))
    vmin, vmax = image_axes[1].images[0].get_clim()
    assert vmin == pytest.approx(-vmax)


def test_image_panels_without_pixel_size_count_pixels() -> None:
    fig = plot.image_panels_figure([("a", np.zeros((5, 6)), False)], "flat")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "x (px)" and ax.get_ylabel() == "y (px)"
    with pytest.raises(ValueError, match="panels"):
        plot.image_panels_figure([], "none")


def test_the_figure_layer_leaves_the_global_backend_alone(tmp_path) -> None:
    code = (
        "import sys, numpy as np\n"
        "from microstructure import plot\n"
        "lab = np.random.default_rng(0).integers(0, 4, (12, 12, 12)).astype(np.uint8)\n"
        f"plot.labels_slice_figure({str(tmp_path / 's.png')!r}, [('l', lab)], voxel_size_nm=10)\n"
        f"plot.labels_3d_figure({str(tmp_path / 'd.png')!r}, lab, voxel_size_nm=10)\n"
        f"plot.profile_figure({str(tmp_path / 'p.png')!r}, np.arange(3), {{'a': np.ones(3)}})\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
