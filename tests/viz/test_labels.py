"""Labelled grids: the grid pasted unchanged in the picture's bottom-right corner, captions drawn in bands left
of the rows and above the columns, pictures set side by side with a sign between."""

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge import viz
from ganforge.viz.labels import label_font, wrap


def images(n: int, channels: int = 1, size: int = 8) -> torch.Tensor:
    return torch.linspace(-1, 1, n * channels * size * size).view(n, channels, size, size)


def dark(a: np.ndarray) -> int:
    """Pixels of caption ink (darker than mid-grey) in a band of a white-banded picture."""
    a = a if a.ndim == 2 else a.min(-1)
    return int((a < 128).sum())


def test_a_labelled_grid_is_the_grid_with_bands_of_captions(tmp_path):
    x = images(6)
    plain = np.asarray(viz.grid_image(x, nrow=3, upscale=2))  # 2 rows of 3: (2 * 10 + 2) * 2 pixels high
    path = viz.save_labelled_grid(x, tmp_path / "l.png", nrow=3, rows=["first row", "second"],
                                  columns=["a", "b", "c"], title="what the picture shows")
    a = np.asarray(Image.open(path))
    h, w = plain.shape
    assert a.ndim == 2 and a.shape[0] > h and a.shape[1] > w  # grey stays grey; bands above and left
    assert np.array_equal(a[-h:, -w:], plain)  # the grid itself, unchanged, bottom-right
    left, top = a.shape[1] - w, a.shape[0] - h
    grid = viz.Grid.of(x, nrow=3)
    for r in range(2):  # each row's caption beside it, in the band
        y0, y1 = grid.row_span(r)
        assert dark(a[top + y0 : top + y1, :left]) > 10, r
    for c in range(3):  # each column's caption above it
        x0, x1 = grid.column_span(c)
        assert dark(a[:top, left + x0 : left + x1]) > 5, c
    assert dark(a[:top, :left]) > 10  # the title, starting over the row captions' band
    bare = viz.labelled(grid)
    assert np.array_equal(np.asarray(bare), plain)  # no captions: no bands


def test_captions_go_where_they_are_given_and_nowhere_else(tmp_path):
    x = images(4, channels=3)
    plain = np.asarray(viz.grid_image(x, nrow=2, upscale=2))
    a = np.asarray(viz.labelled(viz.Grid.of(x, nrow=2), rows=["", "only this row"]))
    h, w = plain.shape[:2]
    assert a.shape == (h, a.shape[1], 3) and np.array_equal(a[:, -w:], plain)  # no column band, no title
    band = a[:, : a.shape[1] - w]
    grid = viz.Grid.of(x, nrow=2)
    assert dark(band[slice(*grid.row_span(0))]) == 0 and dark(band[slice(*grid.row_span(1))]) > 10
    with pytest.raises(ValueError, match="3 row captions for a grid of 2 rows"):
        viz.labelled(grid, rows=["a", "b", "c"])


def test_long_captions_wrap_between_words_and_are_cut_past_the_lines_they_have():
    font = label_font()
    lines = wrap("a dark, large and patterned t-shirt", font, 90)
    assert len(lines) > 1 and " ".join(lines) == "a dark, large and patterned t-shirt"
    assert all(font.getlength(s) <= 90 for s in lines)
    cut = wrap("one two three four five six seven eight", font, 40, max_lines=2)
    assert len(cut) == 2 and cut[-1].endswith("…") and font.getlength(cut[-1]) <= 40
    assert wrap("unbreakablewordthatisfartoolong", font, 50)[0].endswith("…")


def test_pictures_side_by_side_with_a_sign_between():
    x = images(4)
    left = viz.labelled(viz.Grid.of(x, nrow=2), rows=["a", "b"])
    right = np.asarray(viz.grid_image(x[:1], upscale=2))
    joined = np.asarray(viz.beside([left, Image.fromarray(right)], ["="], right.shape[0]))
    assert joined.shape[0] == left.height and joined.shape[1] > left.width + right.shape[1]
    assert np.array_equal(joined[:, : left.width], np.asarray(left))
    assert np.array_equal(joined[-right.shape[0] :, -right.shape[1] :], right)  # bottoms aligned
    gap = joined[:, left.width : joined.shape[1] - right.shape[1]]
    assert dark(gap[-right.shape[0] :]) > 10 and dark(gap[: -right.shape[0]]) == 0  # "=" beside the grids
