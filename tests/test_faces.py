"""Face names of the command-line contract and their electrode aliases."""

import numpy as np
import pytest

from microstructure.faces import face_mask, parse_faces


def test_explicit_and_all():
    assert parse_faces("z-,x+") == ((0, 0), (2, 1))
    assert len(parse_faces("all")) == 6


def test_aliases_follow_electrode_orientation():
    # Default: thickness along y, top (separator) at index 0.
    assert parse_faces("top") == ((1, 0),)
    assert parse_faces("bottom") == ((1, 1),)
    assert (1, 1) not in parse_faces("all-but-bottom") and len(parse_faces("all-but-bottom")) == 5
    assert parse_faces("top", thickness_axis="z", top_at=-1) == ((0, 1),)
    assert (0, 0) not in parse_faces("all-but-bottom", thickness_axis="z", top_at=-1)


@pytest.mark.parametrize("bad", ["", "left", "q+"])
def test_unknown_faces(bad):
    with pytest.raises(ValueError, match="face"):
        parse_faces(bad)


def test_face_mask_marks_outer_layers():
    m = face_mask((3, 4, 5), parse_faces("y-,x+"))
    assert m[:, 0, :].all() and m[:, :, 4].all()
    assert m.sum() == 3 * 5 + 3 * 4 - 3
    assert not m[1, 1:, :4].any()
    assert np.array_equal(face_mask((2, 2, 2), parse_faces("all")), np.ones((2, 2, 2), bool))
