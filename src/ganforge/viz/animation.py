"""Pictures of training over time: looping GIFs and labelled strips of frames (sample grids or plots)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ganforge.errors import UserError
from ganforge.files import atomic_write
from ganforge.viz.images import _check_suffix, _even_indices


def _load_frames(frame_paths: Sequence[str | os.PathLike]) -> list[Image.Image]:
    frames = []
    for p in frame_paths:
        try:
            with Image.open(p) as im:
                frames.append(im.convert("RGB") if im.mode not in ("L", "RGB") else im.copy())
        except (OSError, ValueError) as e:
            raise UserError(f"cannot read image '{p}': {e}") from e
    # one mode for all: grey grids stay exact greys, colour ones are all RGB
    if any(f.mode == "RGB" for f in frames):
        frames = [f.convert("RGB") for f in frames]
    return frames


def save_animation(
    frame_paths: Sequence[str | os.PathLike],
    path: str | os.PathLike,
    duration_ms: int = 200,
    max_frames: int = 100,
) -> Path:
    """Write a looping GIF of the given images (e.g. sample grids over training).

    Uses at most `max_frames` evenly spaced frames, always the first and the last (max_frames=1: the last).
    Each frame shows for `duration_ms`; the last one is held 5x as long (at least 1 s) so the final result can
    be seen. Frames whose size differs from the first are resized to it (nearest). Note that the GIF encoder
    merges consecutive identical frames, so `n_frames` of the result can be smaller in that case.
    """
    path = Path(path)
    _check_suffix(path, (".gif",), "an animation")
    if not frame_paths:
        raise UserError(f"no images to animate into '{path}'")
    if max_frames < 1:
        raise UserError(f"max_frames must be at least 1, got {max_frames}")
    if duration_ms < 1:
        raise UserError(f"frame duration must be at least 1 ms, got {duration_ms}")
    chosen = [frame_paths[i] for i in _even_indices(len(frame_paths), max_frames)]
    frames = _load_frames(chosen)
    size = frames[0].size
    frames = [f if f.size == size else f.resize(size, Image.Resampling.NEAREST) for f in frames]
    durations = [duration_ms] * (len(frames) - 1) + [max(5 * duration_ms, 1000)]
    with atomic_write(path) as f:
        frames[0].save(f, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return path


def save_strip(
    frame_paths: Sequence[str | os.PathLike],
    path: str | os.PathLike,
    n: int = 8,
    labels: Sequence[str] | None = None,
    max_columns: int = 5,
    label: bool = True,
) -> Path:
    """Write one PNG with `n` evenly spaced frames (first and last included) in reading order, each labelled.

    The frames wrap into rows of at most `max_columns`, balanced (8 frames: 2 rows of 4), so a strip of
    500-pixel plots stays a readable picture rather than one row thousands of pixels wide. `labels[i]`
    belongs to `frame_paths[i]` (so the caller need not know which frames are picked); without labels the
    file names (stems) are used. `label=False` draws no label: for frames that carry their own title (plots),
    which a label above would only repeat.
    """
    path = Path(path)
    _check_suffix(path, (".png",), "a strip")
    if not frame_paths:
        raise UserError(f"no images to put into '{path}'")
    if n < 1:
        raise UserError(f"a strip needs at least 1 frame, got {n}")
    if max_columns < 1:
        raise UserError(f"a strip needs at least 1 column, got {max_columns}")
    if labels is not None and len(labels) != len(frame_paths):
        raise ValueError(f"got {len(labels)} labels for {len(frame_paths)} frames")
    idx = _even_indices(len(frame_paths), n)
    frames = [f.convert("RGB") for f in _load_frames([frame_paths[i] for i in idx])]
    texts = [str(labels[i]) if labels is not None else Path(frame_paths[i]).stem for i in idx] if label else []

    font = ImageFont.load_default()
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    boxes = [measure.textbbox((0, 0), t, font=font) for t in texts]
    label_h = max(b[3] for b in boxes) + 6 if label else 0
    gap = 6
    rows = math.ceil(len(frames) / max_columns)
    columns = math.ceil(len(frames) / rows)  # balanced rows: 6 frames are 2 x 3, not 5 + 1
    # every cell is as large as the largest frame (and label), frames centred in it
    cell_w = max([fr.width for fr in frames] + [b[2] - b[0] for b in boxes])
    cell_h = label_h + max(fr.height for fr in frames)
    strip = Image.new("RGB", (columns * (cell_w + gap) + gap, rows * (cell_h + gap) + gap), "white")
    draw = ImageDraw.Draw(strip)
    for k, fr in enumerate(frames):
        x = gap + (k % columns) * (cell_w + gap)
        y = gap + (k // columns) * (cell_h + gap)
        if label:
            box = boxes[k]
            draw.text((x + (cell_w - (box[2] - box[0])) // 2 - box[0], y + 3), texts[k], fill="black", font=font)
        strip.paste(fr, (x + (cell_w - fr.width) // 2, y + label_h))
    with atomic_write(path) as f:
        strip.save(f, format="PNG")
    return path
