"""Shared pieces of the DFN tests: the coarse mesh and the voltage-curve distance."""

from __future__ import annotations

import numpy as np

from microstructure.transport.dfn import MeshSettings

#: A coarse mesh: fast, and fine enough for the comparisons the tests make.
COARSE = MeshSettings(n_separator=4, n_electrode=8, n_secondary=4, n_primary=6)


def max_dv_mv(q_a, v_a, q_b, v_b, lo=0.02, hi=0.90) -> float:
    """Largest voltage difference (mV) of two discharge curves over a common capacity range
    (``lo``..``hi`` of the smaller final capacity)."""
    qmax = min(q_a[-1], q_b[-1])
    qq = np.linspace(lo * qmax, hi * qmax, 300)
    return 1e3 * float(np.max(np.abs(np.interp(qq, q_a, v_a) - np.interp(qq, q_b, v_b))))
