"""Every file the package writes goes through one atomic writer (issue 20, build item 1).

A failed write (full disk, interrupt) leaves the previous file byte-identical, no temporary file
behind, and a one-line error naming the target path. The disk-full cases run on a small tmpfs
(skipped when mounting is not permitted).
"""

from __future__ import annotations

import errno
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from microstructure.io import write_volume
from microstructure.io.tables import (
    atomic_open,
    atomic_path,
    atomic_write_text,
    write_csv,
    write_json,
)
from microstructure.phantom import generate_phantom, save_phantom
from microstructure.volume import Volume

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "microstructure.cli"]
NO_SPACE = "No space left on device"


def _entries(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, NO_SPACE)


# --------------------------------------------------------------------------- the writer itself


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "a.txt"
    target.write_text("old")
    atomic_write_text(target, "new")
    assert target.read_text() == "new"
    assert _entries(tmp_path) == {"a.txt"}


def test_failed_write_keeps_previous_file_and_names_path(tmp_path: Path) -> None:
    target = tmp_path / "a.csv"
    target.write_text("old,content\n")
    with pytest.raises(OSError) as info:
        with atomic_open(target, "w") as fh:
            fh.write("half")
            _enospc()
    msg = str(info.value)
    assert msg == f"{target}: could not write: {NO_SPACE}"
    assert "\n" not in msg and "[Errno" not in msg
    assert info.value.errno == errno.ENOSPC
    assert target.read_text() == "old,content\n"
    assert _entries(tmp_path) == {"a.csv"}


def test_interrupt_during_write_removes_temp(tmp_path: Path) -> None:
    target = tmp_path / "fig.png"
    target.write_bytes(b"previous")
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            raise KeyboardInterrupt
    assert target.read_bytes() == b"previous"
    assert _entries(tmp_path) == {"fig.png"}


def test_short_write_on_a_disk_with_space_is_not_called_full(tmp_path: Path) -> None:
    target = tmp_path / "x.tif"
    with pytest.raises(OSError) as info:
        with atomic_path(target):
            raise OSError("10 requested and 5 written")
    assert str(info.value) == f"{target}: could not write: 10 requested and 5 written"
    assert not list(tmp_path.iterdir())


def test_missing_folder_error_names_target(tmp_path: Path) -> None:
    target = tmp_path / "nope" / "x.json"
    with pytest.raises(FileNotFoundError, match=re.escape(f"{target}: could not write")):
        write_json(target, {"a": 1})


@pytest.mark.parametrize("suffix", [".tif", ".npy"])
def test_write_volume_failure_keeps_previous(tmp_path: Path, monkeypatch, suffix: str) -> None:
    target = tmp_path / f"v{suffix}"
    write_volume(target, Volume(np.zeros((2, 4, 4), np.uint8), (1.0, 1.0, 1.0)))
    before = target.read_bytes()
    import microstructure.io.stacks as stacks

    monkeypatch.setattr(stacks.tifffile, "imwrite", _enospc)
    monkeypatch.setattr(stacks.np, "save", _enospc)
    with pytest.raises(OSError, match=re.escape(f"{target}: could not write: {NO_SPACE}")):
        write_volume(target, Volume(np.ones((2, 4, 4), np.uint8), (1.0, 1.0, 1.0)))
    assert target.read_bytes() == before
    assert _entries(tmp_path) == {target.name}


def test_save_phantom_failure_keeps_previous_set(tmp_path: Path, monkeypatch) -> None:
    """A failure on the second file leaves the previous phantom complete and untouched."""
    out = tmp_path / "ph"
    save_phantom(out, generate_phantom((8, 16, 16), seed=1))
    before = _snapshot(out)
    assert set(before) == {"fibsem.tif", "truth_labels.tif", "truth.json"}
    import microstructure.io.stacks as stacks

    real = stacks.tifffile.imwrite
    calls = []

    def flaky(path, *a, **kw):
        calls.append(Path(path).name)
        real(path, *a, **kw)  # a complete temporary file, then the disk fills up
        if len(calls) == 2:
            _enospc()

    monkeypatch.setattr(stacks.tifffile, "imwrite", flaky)
    with pytest.raises(OSError) as info:
        save_phantom(out, generate_phantom((8, 16, 16), seed=2))
    assert str(info.value).startswith(str(out / "truth_labels.tif"))
    assert _snapshot(out) == before
    assert _entries(out) == set(before)  # no temporary folder left


def test_save_phantom_still_writes_complete_set(tmp_path: Path) -> None:
    paths = save_phantom(tmp_path / "new" / "ph", generate_phantom((8, 16, 16), seed=3))
    assert {p.parent for p in paths.values()} == {tmp_path / "new" / "ph"}
    assert all(p.is_file() for p in paths.values())
    assert _entries(tmp_path / "new" / "ph") == {p.name for p in paths.values()}


# --------------------------------------------------------------------------- audit

#: Files (outside the atomic writer itself) that still write with a raw call, each into a
#: private temporary name of its own (work/resume folders) -- to be moved onto
#: microstructure.io.tables.atomic_open/atomic_path by their owners.
_RAW_WRITERS_ALLOWED = {
    "microstructure/io/tables.py",
    "microstructure/pipeline/runner.py",
    "microstructure/pipeline/builtin/reference.py",
    "microstructure/transport/dfn/_cache.py",
}
_RAW = re.compile(
    r"open\(.*['\"]w|np\.save|tifffile\.imwrite|\.savefig\(|\.write_text\(|\.write_bytes\("
)


_TEMP_WRITER = re.compile(r"atomic_open\(|atomic_path\(|temp_path_beside\(")


def test_no_new_raw_writers() -> None:
    """grep-audit: every other module writes through the atomic writer (a raw write is
    accepted only into a temporary file of the writer, i.e. within a few lines after
    ``atomic_open``/``atomic_path``/``temp_path_beside``)."""
    offenders = []
    for path in sorted((REPO / "microstructure").rglob("*.py")):
        rel = path.relative_to(REPO).as_posix()
        if rel in _RAW_WRITERS_ALLOWED:
            continue
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            code = line.split("#", 1)[0]
            if _RAW.search(code) and not _TEMP_WRITER.search(
                "\n".join(lines[max(0, i - 6) : i + 1])
            ):
                offenders.append(f"{rel}:{i + 1}: {line.strip()}")
    assert not offenders, "raw file writes (use io.tables.atomic_open/atomic_path):\n" + "\n".join(
        offenders
    )


# --------------------------------------------------------------------------- disk full (tmpfs)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 2 MiB tmpfs; skipped when mounting is not permitted (not root, container policy)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)],
        capture_output=True,
        text=True,
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {res.stderr.strip() or res.returncode}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def _fill(disk: Path) -> None:
    """Fill the file system until not one more byte can be written."""
    with open(disk / "filler", "wb", buffering=0) as fh:
        for size in (1 << 16, 1 << 12, 1 << 8, 1):
            try:
                while True:
                    fh.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    with pytest.raises(OSError):
        (disk / "probe").write_bytes(b"x")
    (disk / "probe").unlink(missing_ok=True)


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120)


def _assert_one_line_error(res: subprocess.CompletedProcess, path: Path) -> None:
    assert res.returncode == 1, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("microstructure: error: ")
    assert str(path) in lines[0] and NO_SPACE in lines[0], lines[0]
    assert "Traceback" not in res.stderr


def test_disk_full_mip_compare_and_simulate_keep_old_files(
    small_disk: Path, tmp_path: Path
) -> None:
    labels = tmp_path / "labels.tif"
    save_phantom(tmp_path / "src", generate_phantom((12, 24, 24), seed=0))
    shutil.copy(tmp_path / "src" / "truth_labels.tif", labels)
    curve = tmp_path / "sim.csv"
    assert (
        _run_cli("mip", "simulate", str(labels), "--inlet", "z-", "--out", str(curve)).returncode
        == 0
    )
    old = small_disk / "old.png"
    old.write_bytes(b"\x89PNG previous figure" * 50)
    old_csv = small_disk / "old.csv"
    shutil.copy(curve, old_csv)
    before = old.read_bytes(), old_csv.read_bytes()
    _fill(small_disk)
    res = _run_cli("mip", "compare", str(curve), str(curve), "--out", str(old))
    _assert_one_line_error(res, old)
    res = _run_cli("mip", "simulate", str(labels), "--inlet", "z+", "--out", str(old_csv))
    _assert_one_line_error(res, old_csv)
    assert (old.read_bytes(), old_csv.read_bytes()) == before
    assert _entries(small_disk) == {"old.png", "old.csv", "filler"}


def test_disk_full_phantom_keeps_previous_phantom(small_disk: Path) -> None:
    out = small_disk / "ph"
    first = _run_cli("phantom", "--shape", "8,16,16", "--seed", "1", str(out))
    assert first.returncode == 0, first.stderr
    before = _snapshot(out)
    _fill(small_disk)
    res = _run_cli("phantom", "--shape", "8,16,16", "--seed", "2", str(out))
    _assert_one_line_error(res, out)
    assert _snapshot(out) == before
    assert _entries(out) == set(before)
    assert _entries(small_disk) == {"ph", "filler"}


def _discharge_like(rows: int) -> SimpleNamespace:
    from microstructure.transport.dfn.simulate import DischargeResult

    t = np.linspace(0.0, 3600.0, rows)
    return SimpleNamespace(
        CSV_COLUMNS=DischargeResult.CSV_COLUMNS,
        parameters=SimpleNamespace(nmc_mass_kg_per_m2=0.1),
        area_cm2=1.0,
        time_s=t,
        discharged_mah=t / 3600.0,
        voltage_v=4.2 - t / 3600.0,
        x_um=np.linspace(0, 50, rows),
        salt_end_mol_per_m3=np.full(rows, 1000.0),
    )


def _short_write(path: Path) -> None:
    """A writer reporting a short write without errno, as tifffile does on a full disk."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(b"")
        raise OSError("589824 requested and 81732 written")


def test_disk_full_library_writers_keep_previous(small_disk: Path) -> None:
    """write_csv/json, write_volume (.tif/.npy/.zarr), save_figure and the DFN CSVs."""
    from microstructure.plot import new_figure, save_figure
    from microstructure.transport.dfn.simulate import DischargeResult

    vol = Volume(np.arange(4 * 32 * 32, dtype=np.uint16).reshape(4, 32, 32), (1.0, 1.0, 1.0))
    targets = {
        "a.csv": lambda p: write_csv(p, {"x": np.arange(2000.0)}),
        "a.json": lambda p: write_json(p, {"x": list(range(2000))}),
        "v.tif": lambda p: write_volume(p, vol),
        "v.npy": lambda p: write_volume(p, vol),
        "v.zarr": lambda p: write_volume(p, vol),
        "f.png": lambda p: save_figure(new_figure(), p),
        "dfn.csv": lambda p: DischargeResult.to_csv(_discharge_like(500), p),
        "salt.csv": lambda p: DischargeResult.salt_profile_to_csv(_discharge_like(500), p),
        "short.tif": _short_write,
    }
    small = Volume(np.zeros((1, 2, 2), np.uint8), (1.0, 1.0, 1.0))
    for name in targets:
        p = small_disk / name
        if name.endswith(".zarr"):
            write_volume(p, small)
        else:
            p.write_bytes(b"previous " + name.encode())
    before = {n: (small_disk / n).read_bytes() for n in targets if not n.endswith(".zarr")}
    zarr_before = sorted(
        q.relative_to(small_disk).as_posix() for q in (small_disk / "v.zarr").rglob("*")
    )
    _fill(small_disk)
    for name, write in targets.items():
        target = small_disk / name
        with pytest.raises(OSError) as info:
            write(target)
        msg = str(info.value)
        assert msg.startswith(f"{target}: could not write: {NO_SPACE}"), (name, msg)
        assert "\n" not in msg
    assert {n: (small_disk / n).read_bytes() for n in before} == before
    assert (
        sorted(q.relative_to(small_disk).as_posix() for q in (small_disk / "v.zarr").rglob("*"))
        == zarr_before
    )
    assert _entries(small_disk) == set(targets) | {"filler"}
