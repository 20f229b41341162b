"""data.aspect: the sizes crop, pad and keep choose, the pixels they give, and the words that say what was done."""

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import load_dataset
from ganforge.data.fitting import (
    describe_fit,
    describe_fitting,
    fit_image,
    fit_tensor,
    keep_size,
    target_size,
)
from ganforge.errors import UserError


@pytest.mark.parametrize(("size", "resolution", "want"), [
    ((16, 12), 64, (64, 48)), ((12, 16), 64, (48, 64)), ((1920, 1080), 64, (64, 32)), ((100, 10), 32, (32, 8)),
    ((30, 30), 16, (16, 16)), ((16, 12), 28, (28, 21)),
])
def test_keep_takes_the_nearest_quarter_of_the_long_side(size, resolution, want):
    assert keep_size(*size, resolution) == want == target_size(*size, resolution, "keep")
    assert target_size(*size, resolution, "crop") == target_size(*size, resolution, "pad") == (resolution,) * 2


def test_pad_on_a_tensor_matches_pad_on_a_picture():
    """Images held as one tensor (IDX files, the named sets) are padded like files, without a resize."""
    x = torch.arange(24, dtype=torch.uint8).reshape(1, 1, 4, 6) + 1
    padded = fit_tensor(x, (6, 6), "pad")
    assert padded[0, 0, 1:5].equal(x[0, 0]) and padded[0, 0, [0, 5]].eq(0).all()
    picture = fit_image(Image.fromarray(x[0, 0].numpy()), (6, 6), "pad")
    assert np.array_equal(np.asarray(picture), padded[0, 0].numpy())
    assert fit_tensor(x, (4, 4), "crop")[0, 0].equal(x[0, 0, :, 1:5])  # the centre 4 of 6 columns


def test_the_notes_and_captions_say_what_was_done():
    assert describe_fit({(48, 32): 2}, (64, 64), "pad") == (
        "all 2 images are 48x32: each is resized to 64x43 and padded to 64x64 with black bands, 10 px added on its "
        "top and 11 on its bottom")
    assert describe_fit({(16, 12): 5}, (64, 48), "keep") is None  # only resized: nothing lost
    assert describe_fitting({(48, 32): 3, (40, 40): 1}, (32, 32), "crop") == (
        "48x32 images centre-cropped to 32x32 (data.aspect=crop), 1 of other sizes fitted likewise")
    assert describe_fitting({(48, 32): 1}, (64, 64), "pad") == (
        "48x32 images resized to 64x43 and padded to 64x64 with black bands (data.aspect=pad)")
    assert describe_fitting({(16, 12): 5}, (64, 48), "keep") == "16x12 images resized to 64x48 (data.aspect=keep)"
    assert describe_fitting({(28, 28): 9}, (28, 28), "crop") == "28x28 images as they are"


def test_a_named_dataset_says_how_it_was_resized():
    data = load_dataset("fashion-mnist-10k", resolution=32, aspect="pad")
    assert data.x.shape[-2:] == (32, 32) and data.fitting == "28x28 images resized to 32x32"
    assert load_dataset("fashion-mnist-10k").fitting == "28x28 images as they are"


def test_toy_data_refuses_an_aspect():
    with pytest.raises(UserError, match="data.aspect=pad fits images to data.resolution; toy-ring is toy data"):
        load_dataset("toy-ring", n_toy=10, aspect="pad")
    with pytest.raises(UserError, match="data.aspect must be one of crop, pad, keep, got 'wide'"):
        load_dataset("fashion-mnist-10k", aspect="wide")
