"""With ``--json`` every failure is one JSON object on stdout (``{"error": ..., "exit_code":
...}``) with the same non-zero exit as without it; the one-line stderr message stays."""

from __future__ import annotations

import json

import numpy as np
import pytest

from microstructure.cli import main


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["info", "{missing}", "--json"], "no such file"),
        (["porosity", "{gray}", "--json"], "not phase labels"),
        (["composition", "--mass-fractions", "AM=0.95,CB", "--densities", "AM=4", "--json"],
         "--mass-fractions"),
        (["run", "{recipe}", "--input", "{labels}", "--out", "{out}", "--json"],
         "unknown stage 'segmnt'"),
    ],
)  # fmt: skip
def test_json_errors_are_one_json_object_on_stdout(tmp_path, capsys, argv, needle) -> None:
    np.save(tmp_path / "gray.npy", np.full((3, 3, 3), 200, np.uint8))
    np.save(tmp_path / "labels.npy", np.ones((3, 3, 3), np.uint8))
    (tmp_path / "r.toml").write_text('[[stage]]\nname = "segmnt"\n')
    subst = {
        "{missing}": str(tmp_path / "missing.tif"),
        "{gray}": str(tmp_path / "gray.npy"),
        "{labels}": str(tmp_path / "labels.npy"),
        "{recipe}": str(tmp_path / "r.toml"),
        "{out}": str(tmp_path / "out"),
    }
    code, out, err = _run(capsys, *[subst.get(a, a) for a in argv])
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 1, out
    data = json.loads(lines[0])
    assert set(data) == {"error", "exit_code"} and data["exit_code"] == 1
    assert needle in data["error"] and not data["error"].startswith("microstructure:")
    # the human line on stderr is unchanged, and says the same
    (line,) = [ln for ln in err.splitlines() if ln.strip()]
    assert line == f"microstructure: error: {data['error']}"
    # without --json: nothing on stdout, the same exit
    code2, out2, err2 = _run(capsys, *[subst.get(a, a) for a in argv if a != "--json"])
    assert code2 == code and out2 == "" and err2.strip() == line


def test_json_usage_error_is_json_with_exit_2(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["info", "x.tif", "--json", "--no-such-option"])
    assert info.value.code == 2
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert data["exit_code"] == 2 and "--no-such-option" in data["error"]
    assert len(out.err.strip().splitlines()) == 1
    # a usage error without --json prints nothing on stdout
    with pytest.raises(SystemExit):
        main(["info", "x.tif", "--no-such-option"])
    assert capsys.readouterr().out == ""


def test_json_success_output_is_unchanged(tmp_path, capsys) -> None:
    np.save(tmp_path / "labels.npy", np.ones((3, 3, 3), np.uint8))
    code, out, _ = _run(capsys, "info", str(tmp_path / "labels.npy"), "--json")
    assert code == 0 and "error" not in json.loads(out)
