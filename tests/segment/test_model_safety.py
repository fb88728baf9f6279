"""A saved segmentation model is numbers only: reading a model file never runs code.

A recipe names its model file (``model = "x"``) and recipes are exchanged as text, so a model
file from someone else must not be able to run anything. Models are ``.npz`` arrays + a JSON
header; pickle/joblib files, object arrays, unknown members and wrong headers are refused
with one line naming the file, before anything in them is deserialised. The malicious files
below create a marker file when unpickled; the marker must never appear.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile

import numpy as np
import pytest

from microstructure.cli import main
from microstructure.pipeline import parse_recipe, run_pipeline
from microstructure.segment import (
    TrainedSegmenter,
    load_segmenter,
    segment_am,
    segment_trainable,
    segmentation,
    train_segmenter,
)

# few trees on few samples: some samples have no out-of-bag estimate (harmless here)
pytestmark = pytest.mark.filterwarnings("ignore:Some inputs do not have OOB scores")


class _MakesMarker:
    """Unpickling this object calls ``open(marker, "w")``: the file appears if code runs."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _stack_and_scribbles():
    rng = np.random.default_rng(0)
    stack = rng.normal(0.0, 0.2, (6, 32, 32)).astype(np.float32)
    stack[:, :, 16:] += 1.0  # AM on the right half
    s = np.zeros(stack.shape, np.uint8)
    s[2, ::3, :8] = 1
    s[2, ::3, -8:] = 2
    s[4, ::4, :6] = 1
    s[4, ::4, -6:] = 2
    return stack, s


@pytest.fixture(scope="module")
def trained():
    stack, s = _stack_and_scribbles()
    return stack, train_segmenter(stack, s, n_estimators=6, workers=1, seed=3)


def _one_line(exc_info, path):
    msg = str(exc_info.value)
    assert "\n" not in msg and str(path) in msg and msg.startswith("model:"), msg
    return msg


# -- round trip -------------------------------------------------------------------------------


def test_saved_and_loaded_model_predicts_identically(tmp_path, trained):
    stack, model = trained
    path = model.save(tmp_path / "rf.npz")
    assert path == tmp_path / "rf.npz" and zipfile.is_zipfile(path)
    # every member is a plain numeric array: readable without pickle
    with np.load(path, allow_pickle=False) as z:
        assert all(z[name].dtype.kind in "biuf" for name in z.files)
        head = json.loads(z["header"].tobytes())
    assert head["format"] == "microstructure-random-forest" and head["version"] == 2
    assert head["n_trees"] == 6 and head["phases"] == [0, 1]
    loaded = load_segmenter(path)
    assert isinstance(loaded, TrainedSegmenter)
    assert loaded.features == model.features and loaded.phases == model.phases
    assert loaded.info == model.info
    other = np.flip(stack, axis=2).copy()  # a different stack than the training one
    for s in (stack, other):
        np.testing.assert_array_equal(
            loaded.predict_proba(s, workers=1), model.predict_proba(s, workers=1)
        )
    np.testing.assert_array_equal(
        segment_trainable(other, model=path, workers=1), model.predict(other, workers=1)
    )
    # each tree's node arrays are rebuilt exactly
    for a, b in zip(model.classifier.estimators_, loaded.classifier.estimators_, strict=True):
        sa, sb = a.tree_.__getstate__(), b.tree_.__getstate__()
        assert sa["node_count"] == sb["node_count"] and sa["max_depth"] == sb["max_depth"]
        np.testing.assert_array_equal(sa["nodes"], sb["nodes"])
        np.testing.assert_array_equal(sa["values"], sb["values"])
    # saving again gives the same bytes of data (the archive is deterministic in content)
    again = load_segmenter(loaded.save(tmp_path / "rf2.npz"))
    np.testing.assert_array_equal(
        again.predict_proba(stack, workers=1), loaded.predict_proba(stack, workers=1)
    )


def test_save_refuses_a_pickle_name_and_missing_folder(tmp_path, trained):
    _, model = trained
    with pytest.raises(ValueError, match=r"model path: .*rf\.joblib must end in \.npz"):
        model.save(tmp_path / "rf.joblib")
    with pytest.raises(FileNotFoundError, match="model path: folder"):
        model.save(tmp_path / "nope" / "rf.npz")
    assert not list(tmp_path.iterdir())  # nothing written, no temporary left


# -- must show: malicious pickles are refused unread ------------------------------------------


def _malicious_files(tmp_path, marker):
    import joblib

    payload = {"kind": "microstructure.segment.TrainedSegmenter", "x": _MakesMarker(marker)}
    plain = tmp_path / "evil.joblib"
    plain.write_bytes(pickle.dumps(payload))
    compressed = tmp_path / "evil_compressed.joblib"
    joblib.dump(payload, compressed, compress=3)
    disguised = tmp_path / "evil.npz"  # a pickle renamed to look like a model
    disguised.write_bytes(pickle.dumps(payload, protocol=2))
    return [plain, compressed, disguised]


def test_the_malicious_payload_really_runs_when_unpickled(tmp_path):
    """Control: the test files are dangerous (so the refusals below mean something)."""
    import joblib

    control = tmp_path / "control_marker"
    files = _malicious_files(tmp_path, control)
    pickle.loads(files[0].read_bytes())
    assert control.exists()
    control.unlink()
    joblib.load(files[1])
    assert control.exists()


def test_malicious_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "marker"
    stack, _ = _stack_and_scribbles()
    for path in _malicious_files(tmp_path, marker):
        with pytest.raises(ValueError) as info:
            load_segmenter(path)
        msg = _one_line(info, path)
        assert "is a pickle/joblib file: refused unread" in msg and "run code" in msg
        with pytest.raises(ValueError) as info:
            segment_am(stack, method="trainable", model=path)
        _one_line(info, path)
        with pytest.raises(ValueError) as info:
            segmentation(stack, method="trainable", model=str(path))
        _one_line(info, path)
        assert not marker.exists()


def test_malicious_model_in_a_recipe_is_refused_without_running(tmp_path):
    marker = tmp_path / "marker"
    evil = _malicious_files(tmp_path, marker)[1]
    stack, _ = _stack_and_scribbles()
    src = tmp_path / "stack.npy"
    np.save(src, stack)
    rec = parse_recipe(
        {
            "recipe": {"name": "shared"},
            "stage": [{"name": "segment", "method": "trainable", "model": str(evil)}],
        }
    )
    with pytest.raises(ValueError, match=r"stage 1 'segment': model: .*evil_compressed\.joblib"):
        run_pipeline(rec, src, tmp_path / "out", voxel_size_nm=10.0, progress=False)
    assert not marker.exists()
    # the same through the command line, as a user running a recipe they were sent
    recipe = tmp_path / "shared.toml"
    recipe.write_text(
        f'[[stage]]\nname = "segment"\nmethod = "trainable"\nmodel = {json.dumps(str(evil))}\n'
    )
    argv = ["run", str(recipe), "--input", str(src), "--out", str(tmp_path / "cli")]
    code = main([*argv, "--voxel-size-nm", "10", "--no-progress"])
    assert code != 0
    assert not marker.exists()


def test_cli_error_is_one_line_naming_file_and_stage(tmp_path, capsys):
    marker = tmp_path / "marker"
    evil = _malicious_files(tmp_path, marker)[0]
    src = tmp_path / "stack.npy"
    np.save(src, _stack_and_scribbles()[0])
    recipe = tmp_path / "shared.toml"
    recipe.write_text(
        f'[[stage]]\nname = "segment"\nmethod = "trainable"\nmodel = {json.dumps(str(evil))}\n'
    )
    code = main(
        ["run", str(recipe), "--input", str(src), "--out", str(tmp_path / "cli"),
         "--voxel-size-nm", "10", "--no-progress"]
    )  # fmt: skip
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code != 0 and len(lines) == 1, err
    assert "segment" in lines[0] and "model" in lines[0] and str(evil) in lines[0]
    assert "Traceback" not in err and not marker.exists()


# -- archives that look like models but are not -----------------------------------------------


def test_npz_with_an_object_array_is_refused_unread(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "objects.npz"
    np.savez(path, header=np.array([_MakesMarker(marker)], dtype=object))
    with pytest.raises(ValueError) as info:
        load_segmenter(path)
    assert "object" in _one_line(info, path) or "lacks" in str(info.value)
    assert not marker.exists()


def _members(path):
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _rewrite(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def _npy(arr):
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=True)
    return buf.getvalue()


def test_tampered_archives_are_refused(tmp_path, trained):
    _, model = trained
    good = _members(model.save(tmp_path / "good.npz"))
    marker = tmp_path / "marker"
    head = json.loads(np.lib.format.read_array(io.BytesIO(good["header.npy"])).tobytes())

    def variant(name, **changes):
        members = dict(good)
        for key, value in changes.items():
            if value is None:
                members.pop(key)
            else:
                members[key] = value
        path = tmp_path / f"{name}.npz"
        _rewrite(path, members)
        return path

    def header(**changes):
        return _npy(np.frombuffer(json.dumps({**head, **changes}).encode(), np.uint8))

    left = np.lib.format.read_array(io.BytesIO(good["nodes_left_child.npy"])).copy()
    left[0] = 10**9  # a child far outside the tree (would read outside the node array)
    cases = [
        # a model's members plus an object array that would run code
        (
            variant("extra", **{"values.npy": _npy(np.array([_MakesMarker(marker)], object))}),
            "object",
        ),
        (variant("unknown", **{"payload.pkl": pickle.dumps(_MakesMarker(marker))}), "unexpected"),
        (variant("nohead", **{"header.npy": None}), "lacks"),
        (variant("format", **{"header.npy": header(format="something-else")}), "format"),
        (variant("v1", **{"header.npy": header(version=1)}), "version 1"),
        (variant("trees", **{"header.npy": header(n_trees=7)}), "node_count"),
        (variant("kind", **{"header.npy": header(kind="other")}), "kind"),
        (variant("phases", **{"header.npy": header(phases=[0, 5])}), "phases"),
        (variant("feats", **{"header.npy": header(features={"sigma_min_px": -1})}), "features"),
        (
            variant("child", **{"nodes_left_child.npy": _npy(left)}),
            "tree 0: a child index is outside",
        ),
        (variant("deep", **{"header.npy": _npy(np.frombuffer(b"[" * 100_000, np.uint8))}), "JSON"),
        (variant("text", **{"header.npy": _npy(np.array(["{}"]))}), "dtype"),
    ]
    for path, needle in cases:
        with pytest.raises(ValueError) as info:
            load_segmenter(path)
        assert needle in _one_line(info, path), (path.name, str(info.value))
    assert not marker.exists()
    not_zip = tmp_path / "text.npz"
    not_zip.write_text("hello")
    with pytest.raises(ValueError, match=r"text\.npz is not a saved model archive: refused unread"):
        load_segmenter(not_zip)
    with pytest.raises(FileNotFoundError, match="model: file .* not found"):
        load_segmenter(tmp_path / "missing.npz")
