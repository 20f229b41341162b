"""The image-to-image tasks built from the shipped data: values by hand, determinism, picture sanity."""

import pytest
import torch

from ganforge.data.translation import (
    SOBEL_X,
    area_downsample,
    centre_crop,
    colour_digits,
    pad_to,
    sobel_edges,
)
from ganforge.metrics.translation import polarity, to_unit


def test_sobel_edges_of_a_step_by_hand():
    image = torch.zeros(1, 1, 5, 5, dtype=torch.uint8)
    image[..., 3:] = 200  # a vertical step between columns 2 and 3
    edges = sobel_edges(image)
    # d/dx at columns 2 and 3 is 4 * 200/255 (the kernel's weights 1 + 2 + 1), 0 elsewhere: scaled to 255
    assert edges[0, 0, 2].tolist() == [0, 0, 255, 255, 0]
    assert (edges[..., [0, 1, 4]] == 0).all()
    assert (sobel_edges(torch.zeros(2, 1, 4, 4, dtype=torch.uint8)) == 0).all()  # blank: no edges


def test_sobel_edges_match_a_float64_convolution_in_colour_and_across_blocks():
    x = torch.randint(0, 256, (2100, 3, 9, 7), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    gray = x.double().mean(1, keepdim=True) / 255
    kernels = torch.stack([SOBEL_X, SOBEL_X.T])[:, None].double()
    grad = torch.nn.functional.conv2d(torch.nn.functional.pad(gray, [1, 1, 1, 1], mode="replicate"), kernels)
    magnitude = grad.pow(2).sum(1, keepdim=True).sqrt()
    reference = (magnitude / magnitude.flatten(1).amax(1)[:, None, None, None] * 255).round()
    edges = sobel_edges(x)
    assert edges.shape == (2100, 1, 9, 7) and edges.dtype == torch.uint8
    assert (edges.double() - reference).abs().max() <= 1  # a tie at .5 may round either way
    assert (edges.double() == reference).double().mean() > 0.999


def test_pad_and_crop_are_inverse_and_area_downsample_averages_blocks():
    x = torch.randint(0, 256, (3, 1, 28, 28), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    padded = pad_to(x, 32)
    assert padded.shape == (3, 1, 32, 32) and (padded[..., :2, :] == 0).all()
    assert torch.equal(centre_crop(padded, 28, 28), x)
    block = torch.tensor([[[[0, 10, 20, 30], [40, 50, 60, 71]]]], dtype=torch.uint8)
    assert area_downsample(block, 2).tolist() == [[[[25, 45]]]]  # (0+10+40+50)/4, (20+30+60+71)/4 = 45.25
    with pytest.raises(ValueError, match="divide by 4"):
        area_downsample(torch.zeros(1, 1, 6, 6, dtype=torch.uint8), 4)


def test_colour_digits_are_light_strokes_on_a_dark_textured_ground_seeded_per_image():
    digits = torch.zeros(3, 1, 28, 28, dtype=torch.uint8)
    digits[:, :, 8:20, 13:15] = 255  # a "1"
    out = colour_digits(digits, seed=5)
    assert out.shape == (3, 3, 28, 28) and out.dtype == torch.uint8
    assert (polarity(to_unit(out)) == 1).all()  # the digit stays light on dark, as in MNIST
    stroke = out[0, :, 10, 12].float()  # dilated: one pixel beside the drawn column is ink too
    assert stroke.mean() > out[0, :, 2, 2].float().mean() + 50
    assert not torch.equal(out[0], out[1])  # every image its own colours and texture
    assert torch.equal(colour_digits(digits, seed=5), out)  # deterministic
    assert not torch.equal(colour_digits(digits, seed=6), out)


def test_named_tasks_are_built_from_the_idx_files(shared):

    from ganforge.data import load_dataset

    fashion_root, mnist_root = str(shared("fashion-mnist")), str(shared("mnist"))
    fashion = load_dataset("fashion-mnist", root=fashion_root, split="test")
    edges = load_dataset("fashion-edges", root=fashion_root, split="test")
    assert edges.paired and edges.x.shape == edges.inputs.shape == (10000, 1, 32, 32)
    assert torch.equal(centre_crop(edges.x, 28, 28), fashion.x) and torch.equal(edges.y, fashion.y)
    assert torch.equal(edges.inputs, pad_to(sobel_edges(fashion.x), 32))
    sr = load_dataset("fashion-sr4", root=fashion_root, split="test")
    assert sr.inputs.shape == (10000, 1, 7, 7) and torch.equal(sr.inputs, area_downsample(fashion.x, 4))

    mnist = load_dataset("mnist", root=mnist_root, split="train")
    train = load_dataset("mnist-colour", root=mnist_root, split="train")
    assert not train.paired and len(train.inputs) == len(train.x) == 30000
    assert torch.equal(train.inputs, mnist.x[:30000]) and torch.equal(train.y, mnist.y[30000:])
    assert torch.equal(train.x, colour_digits(mnist.x[30000:], 0))  # B: the other half, coloured
    test = load_dataset("mnist-colour", root=mnist_root, split="test")
    assert test.paired and test.x.shape == (10000, 3, 28, 28) and torch.equal(test.y, test.input_labels)
    assert torch.equal(load_dataset("mnist-colour", root=mnist_root, split="test").x, test.x)  # the same pairs
