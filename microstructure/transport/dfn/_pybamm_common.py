"""Shared pieces of the PyBaMM layer of the hierarchical DFN (built on PyBaMM 26.x).

The lazily imported ``pybamm``, the names of the model inputs and outputs, the particle
domains, the material functions (they work on PyBaMM symbols), the IDAKLU solver settings and
the PyBaMM version check. Used by :mod:`._pybamm_model` (the hierarchical model),
:mod:`._pybamm_compiled` (the compiled model and its solver) and :mod:`._pybamm_reference`
(PyBaMM's own DFN with the collapsed parameters).

References
----------
Naumann, Zeh, Pfaffmann, Beuse et al. (2024), ACS Appl. Energy Mater. 7, 4786,
doi:10.1021/acsaem.4c00505 (solid diffusivity, eq. 9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

PYBAMM_MAJOR = 26
#: Inputs of the compiled model (a 1 m2 electrode, so the current in A is the density in A/m2;
#: the electrode-scale M-factor of either transport mode, see ``_pybamm_model.compiled_options``)
INPUT_CURRENT = "Current function [A]"
INPUT_M = "Positive electrode intergranular M-factor"
#: Input parameters of the discretised model, in the order of the stacked input vector.
INPUT_NAMES = (INPUT_CURRENT, INPUT_M)
#: Model variables a :class:`DischargeSolver` returns (besides ``"Time [s]"``).
OUTPUT_NAMES = (
    "Voltage [V]",
    "Discharge capacity [A.h.m-2]",
    "Total salt [mol.m-2]",
    "Solid lithium [mol.m-2]",
    "Electrolyte concentration [mol.m-3]",
)
#: Version of the :class:`CompiledModel` layout (part of the disk-cache key).
COMPILED_FORMAT = 3


class LazyPyBaMM:
    """``pybamm``, imported on first use (importing it costs 1-3 s).

    A :class:`~._pybamm_compiled.DischargeSolver` built from a cached compiled model needs
    only CasADi and pybammsolvers, so a CLI call that hits the disk cache never imports
    PyBaMM. ``namespace``: the module globals whose ``pybamm`` is replaced by the real module
    on first use (so later look-ups cost nothing).
    """

    def __init__(self, namespace: dict[str, Any] | None = None) -> None:
        self._namespace = namespace

    def __getattr__(self, name: str) -> Any:
        import pybamm as module

        if self._namespace is not None:
            self._namespace["pybamm"] = module
        return getattr(module, name)


pybamm: Any = LazyPyBaMM(globals())

DOM_SEC = "positive secondary particle"
DOM_PRIM = "positive primary particle"


# ------------------------------------------------------------------------------------------
# material functions (work on PyBaMM symbols)
# ------------------------------------------------------------------------------------------
def ocp_v(sto: Any) -> Any:
    """NMC open-circuit potential vs Li/Li+ (Mohtat et al. 2020 fit, as in PyBaMM Xu2019)."""
    return (
        4.3452
        - 1.6518 * sto
        + 1.6225 * sto**2
        - 2.0843 * sto**3
        + 3.5146 * sto**4
        - 2.2166 * sto**5
        - 0.5623e-4 * pybamm.exp(109.451 * sto - 100.006)
    )


def ocp_v_numpy(sto: np.ndarray | float) -> np.ndarray | float:
    """:func:`ocp_v` for numpy input."""
    s = np.asarray(sto, dtype=float)
    out = (
        4.3452
        - 1.6518 * s
        + 1.6225 * s**2
        - 2.0843 * s**3
        + 3.5146 * s**4
        - 2.2166 * s**5
        - 0.5623e-4 * np.exp(109.451 * s - 100.006)
    )
    return float(out) if np.ndim(sto) == 0 else out


def solid_diffusivity(sto: Any, a: float) -> Any:
    """Solid diffusivity [m2/s], Naumann et al. 2024, eq. 9 (``sto`` = degree of lithiation l).

    ``10^-a`` (l <= 0.5), ``10^(-7.5 l + 3.75 - a)`` (0.5 < l < 0.7), ``10^(-1.5 - a)``.
    """
    ramp = pybamm.minimum(pybamm.maximum(sto - 0.5, 0.0), 0.2)
    return 10 ** (-a - 7.5 * ramp)


def electrolyte_diffusivity(c_e: Any, T: float) -> Any:
    """LiPF6 in EC:DMC, Valoen & Reimers 2005 eq. 14 [m2/s] (``c_e`` in mol/m3)."""
    c = c_e / 1000.0
    T_g = 229.0 + 5.0 * c
    D_0 = -4.43 - 54.0 / (T - T_g)
    return 10 ** (D_0 - 0.22 * c) * 1e-4


def electrolyte_conductivity(c_e: Any, T: float) -> Any:
    """LiPF6 in EC:DMC, Valoen & Reimers 2005 eq. 17 [S/m] (``c_e`` in mol/m3)."""
    c = c_e / 1000.0
    return 0.1 * (
        c
        * (
            (-10.5 + 0.0740 * T - 6.96e-5 * T**2)
            + c * (0.668 - 0.0178 * T + 2.80e-5 * T**2)
            + c**2 * (0.494 - 8.86e-4 * T)
        )
        ** 2
    )


def _regularised(c: Any, delta: float) -> Any:
    """Smooth positive version of a concentration: ``(c + sqrt(c^2 + delta^2)) / 2``."""
    return 0.5 * (c + pybamm.sqrt(c**2 + delta**2))


@dataclass
class Discretised:
    """A discretised hierarchical model ready to solve (built once, re-solved with inputs)."""

    model: pybamm.BaseModel
    mesh: pybamm.Mesh
    n_states: int


def make_solver(
    *, rtol: float = 1e-6, atol: float = 1e-8, compile_c: bool = False
) -> pybamm.BaseSolver:
    """IDAKLU solver (PyBaMM's SUNDIALS IDA with KLU sparse linear algebra).

    ``compile_c=True`` compiles the CasADi functions to C with the system compiler (PyBaMM's
    ``"compile"`` option): slow once (about a minute), cached on disk, faster re-solves.
    """
    return pybamm.IDAKLUSolver(
        rtol=rtol, atol=atol, options={"num_threads": 1, "compile": bool(compile_c)}
    )


def _raise_if_below_cutoff_at_start(exc: Exception, current_density_a_per_m2: float) -> None:
    """A clear ``ValueError`` when the cut-off event fires at t = 0 (C-rate too high)."""
    if "non-positive at initial conditions" in str(exc) and "Minimum voltage" in str(exc):
        raise ValueError(
            f"c_rate: at {current_density_a_per_m2:.4g} A/m2 the voltage is below the "
            "cut-off from the first instant (ohmic and contact-resistance drops); "
            "use a lower C-rate"
        ) from None


def pybamm_major_version() -> int:
    """Major version of the installed PyBaMM."""
    return int(str(pybamm.__version__).split(".")[0])
