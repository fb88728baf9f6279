"""Physisorption figure from the real Micromeritics report in ``../shared/validation/``.

Run from the repository root (the validation folder beside the repository)::

    python docs/scripts/physisorption_figures.py [--out docs/images]

Writes ``physisorption_sample_a.png``: the N2 isotherm of ``physisorption/Sample_A.xls`` (a
TriStar II 3020 report, 0.1013 g) with its hysteresis loop, the BET plot with the Rouquerol
window, the Harkins-Jura t-plot and the BJH desorption distribution; prints the numbers quoted
in docs/physisorption.md beside the values the instrument report states.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from microstructure.io.tables import to_jsonable
from microstructure.physisorption import bet, bjh, hysteresis, read_isotherm, tplot
from microstructure.physisorption.plotting import physisorption_figure
from microstructure.plot import save_figure

ROOT = Path(__file__).resolve().parents[2]
VALIDATION = ROOT.parent / "shared" / "validation"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    args = parser.parse_args()
    path = VALIDATION / "physisorption" / "Sample_A.xls"
    if not path.is_file():
        raise SystemExit(f"{path} not found (the validation folder sits beside the repository)")
    iso = read_isotherm(path, manufacturer="mic", fmt="xl")
    b = bet(iso)
    b_report_window = bet(iso, p_over_p0_range=(0.05, 0.301))
    t = tplot(iso)
    psd = bjh(iso)
    loop = hysteresis(iso)
    fig = physisorption_figure(iso, bet_result=b, tplot_result=t, bjh_result=psd, loop=loop)
    out = save_figure(fig, Path(args.out) / "physisorption_sample_a.png")
    numbers = {
        "figure": str(out),
        "stated_by_report": dict(iso.stated),
        "bet_rouquerol": {k: v for k, v in b.summary().items() if k != "quality"},
        "bet_report_window": b_report_window.summary()["bet_area_m2_per_g"],
        "tplot_harkins_jura": {k: v for k, v in t.summary().items() if k != "quality"},
        "bjh_desorption": {k: v for k, v in psd.summary().items() if k != "quality"},
        "hysteresis": {k: v for k, v in loop.summary().items() if k != "rule"},
    }
    print(json.dumps(to_jsonable(numbers), indent=1))


if __name__ == "__main__":
    main()
