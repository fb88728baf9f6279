"""Figures of the two tutorials, made by running the workflows and copying their figures.

Run from the repository root::

    python docs/scripts/tutorial_figures.py seed000 --run twin --out docs/images
    python docs/scripts/tutorial_figures.py seed003 --run seed003 --out docs/images

``seed000`` runs ``microstructure run pipelines/seed000_digital_twin.toml --out RUN`` (about
15 min on 2 cores at the seed's size; cached stages are reused, so a finished run only copies)
and copies the Fig. 8c analogue, the comparison with the seed and the 3D snapshot to
``OUT/seed000_*.png``. ``seed003`` runs ``microstructure workflow
pipelines/seed003_hierarchical.toml --out RUN`` and copies the Figure 4 analogue and the
discharge figures to ``OUT/seed003_*.png``. ``--phantom-shape Z,Y,X`` runs the digital twin
at a reduced size (the test suite does this to check the documented commands).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from microstructure.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]

#: (figure in the run folder, name in docs/images)
SEED000_FIGURES = (
    ("figures/10-granulometry-mip_granulometry.png", "seed000_fig8c.png"),
    ("figures/12-reference-reference.png", "seed000_reference.png"),
    ("figures/09-mip-mip_inlets.png", "seed000_mip_inlets.png"),
    ("figures/3d_labels.png", "seed000_3d_labels.png"),
    ("figures/05-segment-segment_overlay.png", "seed000_segment.png"),
)
SEED003_FIGURES = (
    ("m_factor_vs_porosity.png", "seed003_fig4.png"),
    ("discharge_cal-1_10C.png", "seed003_cal-1_10C.png"),
    ("discharge_cal-3_2C.png", "seed003_cal-3_2C.png"),
)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workflow", choices=["seed000", "seed003"])
    ap.add_argument("--run", type=Path, required=True, help="the workflow's output folder")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    ap.add_argument("--phantom-shape", help="reduced phantom shape Z,Y,X (seed000 only)")
    args = ap.parse_args(argv)
    if args.workflow == "seed000":
        cmd = ["run", str(ROOT / "pipelines" / "seed000_digital_twin.toml"), "--out", str(args.run)]
        if args.phantom_shape:
            cmd += ["--phantom-shape", args.phantom_shape]
        figures = SEED000_FIGURES
    else:
        cmd = ["workflow", str(ROOT / "pipelines" / "seed003_hierarchical.toml")]
        cmd += ["--out", str(args.run)]
        figures = SEED003_FIGURES
    code = cli([*cmd, "--no-progress"])
    if code != 0:
        raise SystemExit(code)
    args.out.mkdir(parents=True, exist_ok=True)
    for src, dst in figures:
        shutil.copyfile(args.run / src, args.out / dst)
        print(f"{args.run / src} -> {args.out / dst}")


if __name__ == "__main__":
    main()
