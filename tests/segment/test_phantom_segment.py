"""Must-show: AM fraction and Dice on the phantom through preprocessing (drift off)."""

from __future__ import annotations

import numpy as np
from segment_helpers import dice, preprocessed_phantom

from microstructure.segment import closed_pores, segment_am, segment_am_report


def test_default_recipe_am_fraction_and_dice_on_phantom():
    ph, stack = preprocessed_phantom(seed=1)
    truth = ph.labels == 1
    mask, info = segment_am_report(stack, method="auto")
    assert info["method_used"] == "multiotsu"  # the phantom shows a CBD grey level
    assert abs(mask.mean() - truth.mean()) <= 0.01
    assert dice(mask, truth) >= 0.95
    # plain Otsu on the same stack: measurably worse (pulled towards the CBD)
    otsu = segment_am(stack, method="otsu")
    assert otsu.mean() - truth.mean() > abs(mask.mean() - truth.mean())


def test_closed_pores_of_the_segmentation_overlap_the_truth():
    ph, stack = preprocessed_phantom(seed=1)
    found = closed_pores(segment_am(stack, method="auto"))
    truth = ph.closed_pores
    assert truth.any()
    # most true closed-pore voxels are found closed; few found voxels are false
    recall = np.count_nonzero(found & truth) / np.count_nonzero(truth)
    precision = np.count_nonzero(found & truth) / max(1, np.count_nonzero(found))
    assert recall > 0.5
    assert precision > 0.5
