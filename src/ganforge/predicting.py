"""`ganforge predict`: the next frames of a clip (a GIF or a folder of frame images) from a run whose Generator
PredictsFrames (a video run), written as a GIF of the input followed by the prediction."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image, ImageSequence

from ganforge import runs, viz
from ganforge.data.folder import bad_file_reason
from ganforge.errors import UserError
from ganforge.families.video import save_clip_gif
from ganforge.generator import PredictsFrames, require

HELP = "predict the next frames of a clip with a video run"
DESCRIPTION = ("Read a clip (a GIF, or a folder of frame images in name order), predict the next frames with a "
               "video run's latest checkpoint, each fed back as the newest input frame, and write a GIF of the "
               "input followed by the prediction, at the run's frame size. Default: RUN_DIR/predicted/<input name>.gif; an existing file is "
               "never replaced without --force.")


def add_arguments(p) -> None:
    """`ganforge predict`'s own options (the command adds RUN_DIR, --out, --force, --checkpoint, --device)."""
    p.add_argument("--input", required=True, metavar="FRAMES|GIF", help="a GIF or a folder of frame images")
    p.add_argument("--frames", type=int, default=10, metavar="N", help="frames to predict (default 10)")


def main(args) -> int:
    """`ganforge predict ARGS`: predict, write, print what was written."""
    written = predict_clip(Path(args.run_dir), args.input, args.frames, args.out, args.checkpoint, args.force,
                           args.device)
    with Image.open(written) as gif:
        size = "x".join(map(str, gif.size))
    print(f"wrote {written} (the input, then {args.frames} predicted frames; {size}, the run's frame size)")
    return 0


def read_frames(source: Path) -> torch.Tensor:
    """uint8 T x H x W gray frames of a GIF (every frame) or a folder of images (in name order)."""
    if not source.exists():
        raise UserError(f"--input {source}: no such file or folder; give a GIF or a folder of frame images")
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
        if not files:
            raise UserError(f"--input {source}/ holds no frame images (.png, .jpg, .bmp)")
    else:
        files = [source]
    frames = []
    for path in files:
        try:
            frames += decode_frames(path, every=not source.is_dir())
        except Exception as exc:  # noqa: BLE001 - Pillow's plugins raise many types on malformed files
            bomb = isinstance(exc, (Image.DecompressionBombError, Image.DecompressionBombWarning))
            what = "" if bomb else "; give a GIF or a folder of frame images that open in an image viewer"
            raise UserError(f"--input {path}: {bad_file_reason(exc)}{what}") from None
    if len({f.shape for f in frames}) > 1:
        raise UserError(f"--input {source}: frames differ in size ({sorted({f.shape for f in frames})})")
    return torch.from_numpy(np.stack(frames))


def decode_frames(path: Path | BinaryIO, every: bool) -> list[np.ndarray]:
    """The frames of one file (or an open binary stream: the studio's uploads) as H x W uint8 arrays: every frame, or the first only. Sizes past Pillow's
    decompression-bomb limit are refused from the header, before a frame is decoded (also between 1x and 2x
    the limit, where Pillow only warns); a GIF frame that would grow the canvas past it is refused likewise."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(path) as im:
            return [np.asarray(f.convert("L")) for f in (ImageSequence.Iterator(im) if every else [im])]


def predict_clip(run_dir: Path, source: str | Path, frames: int = 10, out: str | Path | None = None,
                 checkpoint: Path | None = None, force: bool = False, device: str = "auto") -> Path:
    """Predict `frames` frames after the clip `source` with the video run in run_dir; write a GIF of the input
    then the prediction to `out` (default RUN/predicted/<input name>.gif) and return its path."""
    run_dir, source = runs.require_run(run_dir), Path(source)
    if frames < 1:
        raise UserError(f"--frames must be at least 1, got {frames}")
    out = Path(out) if out is not None else run_dir / "predicted" / f"{source.stem}.gif"
    if out.suffix.lower() != ".gif":
        raise UserError(f"--out {out}: the prediction is written as a .gif")
    if out.exists() and not force:
        raise UserError(f"{out} exists; pass --force to replace it")
    g = runs.load_generator(run_dir, checkpoint, device)
    require(g, PredictsFrames, f"`ganforge predict` continues clips, and {run_dir} was trained on {g.data['kind']} "
            "data", "train a video run (--config video-moving-mnist)")
    clip = read_frames(source)
    size, context = tuple(g.spec.shape[1:]), g.context
    if tuple(clip.shape[1:]) != size:
        raise UserError(f"--input {source}: frames of {clip.shape[1]}x{clip.shape[2]}, and the run predicts "
                        f"{size[0]}x{size[1]} frames")
    if len(clip) < context:
        raise UserError(f"--input {source}: {len(clip)} frame(s); the run reads the last {context}")
    past = clip[None].to(g.device).float().div(127.5).sub(1.0)
    predicted = g.predict(past, frames).cpu()
    sequence = torch.cat([clip[None], viz.to_uint8(predicted)], 1)[0]  # the input's own frames, unquantised
    out.parent.mkdir(parents=True, exist_ok=True)
    # at the run's own size, so the GIF can be read back as another --input
    return save_clip_gif(list(sequence.numpy()), out, upscale=1)
