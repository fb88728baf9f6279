"""The compiled hierarchical DFN: CasADi functions of the discretised model, solved by IDAKLU.

:class:`CompiledModel` holds everything IDAKLU needs without PyBaMM's symbols (it is what the
disk cache stores); :class:`DischargeSolver` solves it directly with pybammsolvers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import casadi
import numpy as np

from microstructure.transport.dfn._pybamm_common import (
    COMPILED_FORMAT,
    INPUT_NAMES,
    OUTPUT_NAMES,
    Discretised,
    LazyPyBaMM,
    _raise_if_below_cutoff_at_start,
    make_solver,
)

pybamm: Any = LazyPyBaMM(globals())

_FUNCTION_KEYS = (
    "rhs_alg",
    "jac_times_cjmass",
    "jac_action",
    "mass_action",
    "events",
    "alg_res",
    "alg_jac",
    "initial_conditions",
)


@dataclass
class CompiledModel:
    """Everything IDAKLU needs to solve the discretised model, without PyBaMM's symbols.

    The CasADi functions PyBaMM's ``IDAKLUSolver.set_up`` would build (residual, Jacobian
    minus ``cj`` times the mass matrix, Jacobian action, mass action, events, algebraic
    residual and Jacobian for the initial-condition Newton solve) plus the initial
    conditions, each serialised with ``casadi.Function.serialize`` (plain text); the output
    variables as an affine map of states and inputs; and the few numbers that go with them.
    It does not depend on the solver tolerances or on the input values; :meth:`to_dict` /
    :meth:`from_dict` make it JSON.
    """

    functions: dict[str, str]
    n_rhs: int
    n_alg: int
    jac_colptrs: list[int]
    jac_rowvals: list[int]
    jac_bandwidth_lower: int
    jac_bandwidth_upper: int
    event_names: list[str]
    input_names: list[str]
    output_names: list[str]
    x_nodes_m: list[float]
    solver_options: dict[str, Any]
    #: The outputs are affine in the states and inputs: ``out = A y + B p + c`` with ``A`` as
    #: CSC arrays ``{"shape", "indptr", "indices", "data"}``, ``B`` (rows of input weights),
    #: ``c``; ``output_sizes`` splits the stacked rows into :data:`OUTPUT_NAMES`.
    output_sizes: list[int]
    output_state_matrix: dict[str, Any]
    output_input_matrix: list[list[float]]
    output_offset: list[float]
    #: The CasADi functions themselves when just built (not stored; saves deserialising)
    live: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_states(self) -> int:
        """Number of states (differential + algebraic)."""
        return self.n_rhs + self.n_alg

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dictionary."""
        return {
            "format": COMPILED_FORMAT,
            "functions": dict(self.functions),
            "n_rhs": self.n_rhs,
            "n_alg": self.n_alg,
            "jac_colptrs": list(self.jac_colptrs),
            "jac_rowvals": list(self.jac_rowvals),
            "jac_bandwidth_lower": self.jac_bandwidth_lower,
            "jac_bandwidth_upper": self.jac_bandwidth_upper,
            "event_names": list(self.event_names),
            "input_names": list(self.input_names),
            "output_names": list(self.output_names),
            "x_nodes_m": list(self.x_nodes_m),
            "solver_options": dict(self.solver_options),
            "output_sizes": list(self.output_sizes),
            "output_state_matrix": dict(self.output_state_matrix),
            "output_input_matrix": [list(r) for r in self.output_input_matrix],
            "output_offset": list(self.output_offset),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CompiledModel:
        """Inverse of :meth:`to_dict`; ``ValueError`` when ``d`` is not a compatible one."""
        if not isinstance(d, dict) or d.get("format") != COMPILED_FORMAT:
            raise ValueError("compiled model: unknown format")
        fns = d.get("functions")
        if (
            not isinstance(fns, dict)
            or set(fns) != set(_FUNCTION_KEYS)
            or not all(isinstance(v, str) for v in fns.values())
        ):
            raise ValueError("compiled model: functions missing")
        if list(d.get("input_names", ())) != list(INPUT_NAMES) or list(
            d.get("output_names", ())
        ) != list(OUTPUT_NAMES):
            raise ValueError("compiled model: other inputs or outputs")
        out = cls(
            functions=dict(fns),
            n_rhs=int(d["n_rhs"]),
            n_alg=int(d["n_alg"]),
            jac_colptrs=[int(v) for v in d["jac_colptrs"]],
            jac_rowvals=[int(v) for v in d["jac_rowvals"]],
            jac_bandwidth_lower=int(d["jac_bandwidth_lower"]),
            jac_bandwidth_upper=int(d["jac_bandwidth_upper"]),
            event_names=[str(v) for v in d["event_names"]],
            input_names=list(INPUT_NAMES),
            output_names=list(OUTPUT_NAMES),
            x_nodes_m=[float(v) for v in d["x_nodes_m"]],
            solver_options=dict(d["solver_options"]),
            output_sizes=[int(v) for v in d["output_sizes"]],
            output_state_matrix={
                "shape": [int(v) for v in d["output_state_matrix"]["shape"]],
                "indptr": [int(v) for v in d["output_state_matrix"]["indptr"]],
                "indices": [int(v) for v in d["output_state_matrix"]["indices"]],
                "data": [float(v) for v in d["output_state_matrix"]["data"]],
            },
            output_input_matrix=[[float(v) for v in r] for r in d["output_input_matrix"]],
            output_offset=[float(v) for v in d["output_offset"]],
        )
        if not all(
            isinstance(k, str) and isinstance(v, bool | int | float | str)
            for k, v in out.solver_options.items()
        ):
            raise ValueError("compiled model: bad solver options")
        n = out.n_states
        if n <= 0 or len(out.jac_colptrs) != n + 1 or len(out.jac_rowvals) != out.jac_colptrs[-1]:
            raise ValueError("compiled model: inconsistent Jacobian sparsity")
        a, m = out.output_state_matrix, sum(out.output_sizes)
        if (
            len(out.output_sizes) != len(OUTPUT_NAMES)
            or a["shape"] != [m, n]
            or len(a["indptr"]) != n + 1
            or len(a["indices"]) != a["indptr"][-1]
            or len(a["data"]) != len(a["indices"])
            or len(out.output_offset) != m
            or [len(r) for r in out.output_input_matrix] != [len(INPUT_NAMES)] * m
        ):
            raise ValueError("compiled model: inconsistent output matrices")
        return out


def compile_model(disc: Discretised) -> CompiledModel:
    """The CasADi functions of a discretised model (what ``IDAKLUSolver.set_up`` builds).

    Converts the residual once (PyBaMM's set-up converts the rhs, the algebraic part and
    their concatenation separately, each with its Jacobian) and builds the functions from
    the same expressions PyBaMM uses, so the solution equals PyBaMM's
    ``IDAKLUSolver.solve`` (tests/transport/test_dfn_cache.py).
    """
    model = disc.model
    n_rhs, n_alg = int(model.len_rhs), int(model.len_alg)
    n = n_rhs + n_alg
    t = casadi.MX.sym("t")
    y = casadi.vertcat(casadi.MX.sym("y_diff", n_rhs), casadi.MX.sym("y_alg", n_alg))
    p_dict = {name: casadi.MX.sym(name) for name in INPUT_NAMES}
    p = casadi.vertcat(*p_dict.values())
    converted: dict[Any, Any] = {}  # PyBaMM's shared conversion cache (symbol -> MX)

    def conv(symbol: Any) -> Any:
        _prefill_sparse_constants(symbol, converted)
        return symbol.to_casadi(t, y, inputs=p_dict, casadi_symbols=converted)

    rhs_alg = conv(pybamm.NumpyConcatenation(model.concatenated_rhs, model.concatenated_algebraic))
    cj = casadi.MX.sym("cj")
    v = casadi.MX.sym("v", n)
    jac = model.build_casadi_jacobian(rhs_alg, y)
    jac_times_cjmass = casadi.Function(
        "jac_times_cjmass", [t, y, p, cj], [jac - cj * _sparse_dm(model.mass_matrix.entries)]
    )
    alg = rhs_alg[n_rhs:]
    if not model.is_standard_form_dae:  # pragma: no cover - the model is semi-explicit
        raise ValueError("compile_model: expected a standard-form DAE (identity mass block)")
    events = [e for e in model.events if e.event_type == pybamm.EventType.TERMINATION]
    outputs = [conv(model.get_processed_variable_or_event(k)) for k in OUTPUT_NAMES]
    lin = _affine_outputs(outputs, t, y, p, n)
    fns = {
        "rhs_alg": casadi.Function("rhs_algebraic", [t, y, p], [rhs_alg]),
        "jac_times_cjmass": jac_times_cjmass,
        "jac_action": casadi.Function(
            "jac_action", [t, y, p, v], [casadi.densify(casadi.jtimes(rhs_alg, y, v))]
        ),
        "mass_action": casadi.Function(
            "mass_action", [v], [casadi.vertcat(v[:n_rhs], np.zeros(n_alg))]
        ),
        "events": casadi.Function(
            "rootfn", [t, y, p], [casadi.vertcat(*[conv(e.expression) for e in events])]
        ),
        "alg_res": casadi.Function("algebraic", [t, y, p], [alg]),
        "alg_jac": casadi.Function("algebraic_jac", [t, y, p], [casadi.jacobian(alg, y)]),
        "initial_conditions": casadi.Function(
            "initial_conditions", [t, y, p], [conv(model.concatenated_initial_conditions)]
        ),
    }
    sp = jac_times_cjmass.sparsity_out(0)
    x_nodes = np.concatenate([disc.mesh["separator"].nodes, disc.mesh["positive electrode"].nodes])
    return CompiledModel(
        functions={k: fns[k].serialize() for k in _FUNCTION_KEYS},
        n_rhs=n_rhs,
        n_alg=n_alg,
        jac_colptrs=[int(c) for c in sp.colind()],
        jac_rowvals=[int(r) for r in sp.row()],
        jac_bandwidth_lower=int(sp.bw_lower()),
        jac_bandwidth_upper=int(sp.bw_upper()),
        event_names=[e.name for e in events],
        input_names=list(INPUT_NAMES),
        output_names=list(OUTPUT_NAMES),
        x_nodes_m=[float(x) for x in x_nodes],
        solver_options=dict(make_solver().options),
        **lin,
        live={k: fns[k] for k in ("initial_conditions", "rhs_alg", "events")},
    )


def _affine_outputs(outputs: list[Any], t: Any, y: Any, p: Any, n: int) -> dict[str, Any]:
    """The output variables as ``A y + B p + c`` (they are linear in the states: slices,
    boundary extrapolations, integrals), so a solve evaluates them with one sparse product
    instead of a CasADi call per output time (numpy <-> CasADi conversion of every state at
    every time point cost 15-35 ms per solve)."""
    stacked = casadi.vertcat(*outputs)
    if casadi.depends_on(stacked, t) or not (
        casadi.is_linear(stacked, y) and casadi.is_linear(stacked, p)
    ):
        raise ValueError("compile_model: every output variable must be affine in y and inputs")
    fn = casadi.Function(
        "affine", [y, p], [casadi.jacobian(stacked, y), casadi.jacobian(stacked, p), stacked]
    )
    a, b, c = fn(np.zeros(n), np.zeros(len(INPUT_NAMES)))
    a = casadi.DM(a)
    sp = a.sparsity()
    return {
        "output_sizes": [int(o.numel()) for o in outputs],
        "output_state_matrix": {
            "shape": [int(a.size1()), int(a.size2())],
            "indptr": [int(v) for v in sp.colind()],
            "indices": [int(v) for v in sp.row()],
            "data": [float(v) for v in a.nonzeros()],
        },
        "output_input_matrix": np.asarray(casadi.DM(b), dtype=float).tolist(),
        "output_offset": np.asarray(casadi.DM(c), dtype=float).ravel().tolist(),
    }


def _prefill_sparse_constants(symbol: Any, converted: dict[Any, Any]) -> None:
    """Convert the sparse matrices of ``symbol`` to CasADi from their CSC arrays.

    ``casadi.MX(scipy_matrix)`` walks the arrays element by element in Python (40 ms at the
    default mesh, 140 ms at the depletion mesh); building the same ``DM`` from the index
    lists gives the identical constant (same sparsity, explicit zeros kept) 3-6x faster.
    """
    from scipy.sparse import issparse

    seen: set[int] = set()
    for node in symbol.pre_order():
        if not isinstance(node, pybamm.Array) or id(node) in seen:
            continue
        seen.add(id(node))
        if issparse(node.entries) and node not in converted:
            converted[node] = casadi.MX(_sparse_dm(node.entries))


def _sparse_dm(matrix: Any) -> Any:
    """``casadi.DM`` of a SciPy sparse matrix, built from its CSC arrays (what
    ``casadi.DM(matrix)`` gives, explicit zeros kept, without the element-wise typemap)."""
    m = matrix.tocsc()
    sp = casadi.Sparsity(m.shape[0], m.shape[1], m.indptr.tolist(), m.indices.tolist())
    return casadi.DM(sp, m.data.tolist())


class DischargeSolver:
    """IDAKLU (PyBaMM's SUNDIALS IDA + KLU solver group) for a :class:`CompiledModel`.

    Does what ``IDAKLUSolver.solve`` does for this model (initial conditions, consistent
    ``ydot0`` of the differential states, IDA's own consistent initialisation of the
    algebraic states, events, the same solver options) and returns plain arrays.
    Building one from a cached :class:`CompiledModel` skips PyBaMM's discretisation and
    set-up entirely.
    """

    def __init__(
        self, compiled: CompiledModel, *, rtol: float, atol: float, compile_c: bool = False
    ) -> None:
        from pybammsolvers import idaklu

        self.compiled = compiled
        self._idaklu = idaklu
        n = compiled.n_states
        solver_keys = (
            "rhs_alg",
            "jac_times_cjmass",
            "jac_action",
            "mass_action",
            "events",
            "alg_res",
            "alg_jac",
        )
        if compile_c:
            from pybamm.codegen.compilation import aot_compile

            built = aot_compile(
                [casadi.Function.deserialize(compiled.functions[k]) for k in solver_keys]
            )
            strings = {k: f.serialize() for k, f in zip(solver_keys, built, strict=True)}
        else:
            strings = {k: compiled.functions[k] for k in solver_keys}
        # IDAKLU deserialises its own copies; Python needs only the small functions
        gen = {k: idaklu.generate_function(s) for k, s in strings.items()}
        # the functions evaluated in Python (every solve needs them; deserialising them here
        # also checks a cached entry completely before it is used)
        self._python_fns: dict[str, Any] = {
            k: compiled.live.get(k) or casadi.Function.deserialize(compiled.functions[k])
            for k in ("initial_conditions", "rhs_alg", "events")
        }
        from scipy.sparse import csc_matrix

        a = compiled.output_state_matrix
        self._out_a = csc_matrix(
            (
                np.asarray(a["data"], dtype=float),
                np.asarray(a["indices"], dtype=np.int64),
                np.asarray(a["indptr"], dtype=np.int64),
            ),
            shape=tuple(a["shape"]),
        ).tocsr()
        self._out_b = np.asarray(compiled.output_input_matrix, dtype=float)
        self._out_c = np.asarray(compiled.output_offset, dtype=float)
        # PyBaMM's IDAKLU options of make_solver() (stored with the model: PyBaMM's
        # version is part of the cache key), so no PyBaMM import is needed here
        options = dict(compiled.solver_options, compile=bool(compile_c))
        self._group = idaklu.create_casadi_solver_group(
            number_of_states=n,
            number_of_parameters=0,
            rhs_alg=gen["rhs_alg"],
            jac_times_cjmass=gen["jac_times_cjmass"],
            jac_times_cjmass_colptrs=np.asarray(compiled.jac_colptrs, dtype=np.int64),
            jac_times_cjmass_rowvals=np.asarray(compiled.jac_rowvals, dtype=np.int64),
            jac_times_cjmass_nnz=len(compiled.jac_rowvals),
            jac_bandwidth_lower=compiled.jac_bandwidth_lower,
            jac_bandwidth_upper=compiled.jac_bandwidth_upper,
            jac_action=gen["jac_action"],
            mass_action=gen["mass_action"],
            sens=idaklu.generate_function(casadi.Function("sensfn", [], []).serialize()),
            events=gen["events"],
            number_of_events=len(compiled.event_names),
            rhs_alg_id=np.concatenate(
                [np.ones(compiled.n_rhs, dtype=np.int64), np.zeros(compiled.n_alg, dtype=np.int64)]
            ),
            atol=np.full(n, float(atol)),
            rtol=float(rtol),
            inputs=len(compiled.input_names),
            var_fcns=[],
            dvar_dy_fcns=[],
            dvar_dp_fcns=[],
            options=options,
            alg_res=gen["alg_res"],
            alg_jac=gen["alg_jac"],
        )

    def _fn(self, key: str) -> Any:
        """A CasADi function of the compiled model evaluated in Python."""
        return self._python_fns[key]

    @property
    def n_states(self) -> int:
        """Number of states of the model."""
        return self.compiled.n_states

    @property
    def x_nodes_m(self) -> np.ndarray:
        """Cell centres across separator + electrode [m] (``x = 0`` at the Li metal)."""
        return np.asarray(self.compiled.x_nodes_m, dtype=float)

    def solve(
        self,
        *,
        current_density_a_per_m2: float,
        m_electrode: float,
        t_end_s: float,
        n_out: int = 200,
        keep_states: bool = False,
    ) -> dict[str, Any]:
        """One constant-current discharge until an event (cut-off) or ``t_end_s``.

        Returns ``{"Time [s]": t, <each of OUTPUT_NAMES>: values per output time (a 2D
        array (points, times) for the concentration profile), "termination": str}``;
        ``termination`` reads as PyBaMM's (``"event: Minimum voltage [V]"``, ``"final
        time"``). ``keep_states=True`` adds ``"y"``: every state at every output time,
        shape (states, times), and ``"inputs"``: the input values by name (what a
        ``pybamm.Solution`` of the discretised model needs).
        """
        c = self.compiled
        n, n_rhs = c.n_states, c.n_rhs
        pv = np.array([float(current_density_a_per_m2), float(m_electrode)])
        y0 = np.asarray(self._fn("initial_conditions")(0.0, np.zeros(n), pv), dtype=float)
        y0 = y0.ravel()
        ydot0 = np.zeros(n)
        ydot0[:n_rhs] = np.asarray(self._fn("rhs_alg")(0.0, y0, pv), dtype=float).ravel()[:n_rhs]
        t_interp = np.linspace(0.0, float(t_end_s), int(n_out))
        try:
            sol = self._group.solve(
                np.array([0.0, float(t_end_s)]),
                t_interp,
                y0[None, :],
                ydot0[None, :],
                pv[None, :],
                logger=None,
                pbar=np.empty((0, 0)),
            )[0]
        except ValueError as exc:
            raise pybamm.SolverError(str(exc)) from None
        if sol.flag < 0:
            raise pybamm.SolverError(
                f"input set 0: {self._idaklu.sundials_error_message(sol.flag)}"
            )
        t = np.asarray(sol.t, dtype=float)
        y = np.asarray(sol.y, dtype=float).reshape(t.size, n)
        if sol.flag == 2:  # IDA_ROOT_RETURN: an event stopped the integration
            ev = np.asarray(self._fn("events")(float(t[-1]), y[-1], pv), dtype=float).ravel()
            if t.size == 1 and ev.min() <= 0:  # as PyBaMM's check after IDA's initialisation
                names = [c.event_names[i] for i in np.flatnonzero(ev <= 0)]
                exc = pybamm.SolverError(f"Events {names} are non-positive at initial conditions")
                _raise_if_below_cutoff_at_start(exc, current_density_a_per_m2)
                raise exc
            termination = f"event: {c.event_names[int(np.nanargmin(np.abs(ev)))]}"
        else:
            termination = "final time"
        if t.size == 1:
            raise pybamm.SolverError(
                "Solution time vector has length 1. Check whether simulation terminated too early."
            )
        vals = self._out_a @ y.T + (self._out_b @ pv + self._out_c)[:, None]
        out: dict[str, Any] = {"Time [s]": t, "termination": termination}
        if keep_states:
            out["y"] = y.T.copy()
            out["inputs"] = dict(zip(c.input_names, pv.tolist(), strict=True))
        start = 0
        for name, size in zip(c.output_names, c.output_sizes, strict=True):
            block = vals[start : start + size]
            out[name] = block[0].copy() if size == 1 else block.copy()
            start += size
        return out
