"""Hierarchical DFN: our IDAKLU driver equals PyBaMM's solve; the on-disk model cache.

A cache hit must give the same numbers as a fresh build and must never be used for another
mesh, preset or parameter set; corrupt entries are rebuilt; the cache can be switched off.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("pybamm")

from microstructure.transport.dfn import (  # noqa: E402
    MeshSettings,
    _cache,
    cell_parameters,
    clear_cache,
    simulate_discharge,
)
from microstructure.transport.dfn import _pybamm_model as pm  # noqa: E402

COARSE = MeshSettings(n_separator=3, n_electrode=6, n_secondary=3, n_primary=3)


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    """A private, empty cache folder; the in-memory solvers forgotten before and after."""
    monkeypatch.setenv(_cache.ENV_DIR, str(tmp_path))
    monkeypatch.delenv(_cache.ENV_SWITCH, raising=False)
    clear_cache()
    yield tmp_path / "dfn"
    clear_cache()


def _entries(folder):
    return sorted(folder.glob("*.dfn.json.z")) if folder.is_dir() else []


def _run(**kw):
    kw.setdefault("mesh", COARSE)
    return simulate_discharge(
        kw.pop("preset", "cal-2"),
        c_rate=kw.pop("c_rate", 1.0),
        transport=kw.pop("transport", "combined"),
        **kw,
    )


def _model_in_cache(key):
    payload, texts = _cache.load(key)
    return pm.CompiledModel.from_dict({**payload, "functions": texts})


def _no_discretise(monkeypatch):
    def fail(*a, **k):
        raise AssertionError("discretised although the disk cache holds the model")

    monkeypatch.setattr(pm, "discretise", fail)


def test_compiled_solver_equals_pybamm_idaklu_solve():
    # our set-up converts the residual once; the solution must be PyBaMM's own
    p = cell_parameters("cal-3")
    d = pm.discretise(p, COARSE)
    ours = pm.DischargeSolver(pm.compile_model(d), rtol=1e-6, atol=1e-8)
    for c_rate, transport in ((1.0, "combined"), (2.0, "intergranular")):  # 2C depletes
        i_app, m = c_rate * p.one_c_current_density_a_per_m2, p.m_electrode(transport)
        kw = dict(current_density_a_per_m2=i_app, m_electrode=m, t_end_s=4000.0 / c_rate, n_out=150)
        ref = pm.solve(d, pm.make_solver(rtol=1e-6, atol=1e-8), **kw)
        got = ours.solve(**kw)
        assert got["termination"] == str(ref.termination) == "event: Minimum voltage [V]"
        for name in ("Time [s]", *pm.OUTPUT_NAMES):
            a = np.asarray(ref[name].entries)
            assert got[name].shape == a.shape, name
            assert np.allclose(got[name], a, rtol=1e-12, atol=1e-12 * np.abs(a).max()), name


def test_cache_hit_equals_fresh_build_and_skips_discretisation(cache_dir, monkeypatch):
    fresh = _run(disk_cache=False)
    assert _entries(cache_dir) == []
    clear_cache()
    first = _run()  # builds and stores
    assert len(_entries(cache_dir)) == 1
    clear_cache()
    _no_discretise(monkeypatch)
    hit = _run()  # loaded
    for r in (first, hit):
        assert abs(r.capacity_mah - fresh.capacity_mah) <= 1e-9 * fresh.capacity_mah
        assert np.allclose(r.voltage_v, fresh.voltage_v, rtol=0, atol=1e-9)
        assert np.allclose(r.salt_end_mol_per_m3, fresh.salt_end_mol_per_m3, rtol=1e-9)
        assert r.termination == fresh.termination and r.n_states == fresh.n_states
    # the transport mode and the C-rate are inputs: the same entry serves them
    clear_cache()
    other_rate = _run(c_rate=2.0, transport="intergranular")
    assert len(_entries(cache_dir)) == 1 and other_rate.capacity_mah < fresh.capacity_mah


def test_cache_hit_in_a_new_process_without_importing_pybamm(cache_dir):
    first = _run()
    code = (
        "import json, sys\n"
        "from microstructure.transport.dfn import MeshSettings, simulate_discharge\n"
        f"r = simulate_discharge('cal-2', c_rate=1.0, transport='combined', "
        f"mesh=MeshSettings{COARSE.counts})\n"
        "print(json.dumps({'q': r.capacity_mah, 'v': r.voltage_v.tolist(),\n"
        "                  'pybamm': 'pybamm' in sys.modules}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        check=True,
        timeout=120,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["pybamm"] is False  # the whole solve ran from the cached CasADi functions
    assert abs(got["q"] - first.capacity_mah) <= 1e-9 * first.capacity_mah
    assert np.allclose(got["v"], first.voltage_v, rtol=0, atol=1e-9)


def test_cache_entry_never_used_for_another_mesh_preset_or_parameters(cache_dir):
    p = cell_parameters("cal-2")
    key = _cache.key_material(
        p, COARSE, layout=pm.COMPILED_FORMAT, inputs=pm.INPUT_NAMES, outputs=pm.OUTPUT_NAMES
    )
    assert _cache.store(key, {"x": 1}, texts={"f": "abc", "g": ""}) is not None
    assert _cache.load(key) == ({"x": 1}, {"f": "abc", "g": ""})
    others = [
        (p, MeshSettings(3, 6, 3, 4)),
        (p, MeshSettings(3, 6, 3, 3, secondary_stretch=1.0)),
        (cell_parameters("cal-3"), COARSE),
        (cell_parameters("cal-2", m_intragranular=0.2), COARSE),
        (p.with_changes(secondary_radius_um=4.0), COARSE),
        (p.with_changes(intragranular_conductivity_s_per_m=None), COARSE),
        (
            p.with_changes(contact_resistance_ohm_m2=p.contact_resistance_ohm_m2 * (1 + 1e-15)),
            COARSE,
        ),
    ]
    for q, mesh in others:
        k = _cache.key_material(
            q, mesh, layout=pm.COMPILED_FORMAT, inputs=pm.INPUT_NAMES, outputs=pm.OUTPUT_NAMES
        )
        assert k != key and _cache.load(k) is None
    for changed in ({"pybamm": "0.0"}, {"sources": "x"}, {"layout": 99}):
        assert _cache.load({**key, **changed}) is None
    # an entry found under another key's file name (e.g. a hash collision) is refused
    other = _cache.key_material(
        *others[2], layout=pm.COMPILED_FORMAT, inputs=pm.INPUT_NAMES, outputs=pm.OUTPUT_NAMES
    )
    path = _cache._path(other, cache_dir)
    path.write_bytes(_cache._path(key, cache_dir).read_bytes())
    assert _cache.load(other) is None
    # end to end: the dummy under cal-2's key is not a model, so it is rebuilt and replaced;
    # another mesh or preset is built afresh, not loaded
    a = _run()
    assert _model_in_cache(key).n_states == a.n_states
    b = _run(mesh=MeshSettings(3, 6, 3, 4))
    c = _run(preset="cal-3")  # replaces the copied entry under cal-3's name
    assert len({a.n_states, b.n_states}) == 2 and a.capacity_mah != c.capacity_mah
    assert _model_in_cache(other).n_states == c.n_states
    assert len(_entries(cache_dir)) == 3


@pytest.mark.parametrize(
    "damage", ["truncate", "garbage", "wrong_payload", "bad_casadi", "bad_events"]
)
def test_corrupt_entry_is_ignored_and_rebuilt(cache_dir, damage):
    good = _run()
    (path,) = _entries(cache_dir)
    raw = path.read_bytes()
    if damage == "truncate":
        path.write_bytes(raw[: len(raw) // 2])
    elif damage == "garbage":
        path.write_bytes(os.urandom(4096))
    else:  # a well-formed entry under the right key with a wrong content
        key = _cache.key_material(
            cell_parameters("cal-2"),
            COARSE,
            layout=pm.COMPILED_FORMAT,
            inputs=pm.INPUT_NAMES,
            outputs=pm.OUTPUT_NAMES,
        )
        payload, texts = _cache.load(key)
        if damage == "wrong_payload":
            payload = {"format": pm.COMPILED_FORMAT, "n_rhs": "many"}
        elif damage == "bad_casadi":
            texts["jac_times_cjmass"] = "not a CasADi function"
        else:  # read back in Python only
            texts["events"] = texts["events"][: len(texts["events"]) // 2]
        assert _cache.store(key, payload, texts=texts) == path
    clear_cache()
    again = _run()
    assert again.capacity_mah == good.capacity_mah
    assert np.array_equal(again.voltage_v, good.voltage_v)
    assert path.read_bytes() == raw  # rewritten with the rebuilt entry


def test_cache_switched_off(cache_dir, monkeypatch):
    _run(disk_cache=False)
    assert _entries(cache_dir) == []
    monkeypatch.setenv(_cache.ENV_SWITCH, "0")
    clear_cache()
    _run()
    assert _entries(cache_dir) == []
    with pytest.raises(ValueError, match="disk_cache"):
        _run(disk_cache="yes")


def test_writes_are_atomic_and_old_entries_pruned(cache_dir):
    p = cell_parameters("cal-2")
    keys = [
        _cache.key_material(p, MeshSettings(3, 3, 3, n), layout=1, inputs=(), outputs=())
        for n in (3, 4, 5)
    ]
    for i, k in enumerate(keys):
        _cache.store(k, {"i": i}, texts={"t": str(i)})
        os.utime(_cache._path(k, cache_dir), (1e9 + i, 1e9 + i))
    assert not [f for f in cache_dir.iterdir() if f.name.startswith(".tmp-")]
    _cache._prune(cache_dir, keep=2)
    assert _cache.load(keys[0]) is None and _cache.load(keys[2]) == ({"i": 2}, {"t": "2"})
    assert _cache.clear(cache_dir) == 2 and _entries(cache_dir) == []
    # an unwritable folder costs the cache, never the simulation
    assert _cache.store(keys[0], {"i": 0}, directory=cache_dir / "f" / "x") is not None
    (cache_dir / "file").write_text("")
    assert _cache.store(keys[0], {"i": 0}, directory=cache_dir / "file" / "sub") is None
