"""`ganforge predict`: the next frames of a clip (a GIF or a folder of frame images) from a video run, written as a
GIF of the input followed by the prediction."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageSequence

from ganforge.errors import UserError
from ganforge.families.video import save_clip_gif, to_frames_uint8


def read_frames(source: Path) -> torch.Tensor:
    """uint8 T x H x W gray frames of a GIF (every frame) or a folder of images (in name order)."""
    if not source.exists():
        raise UserError(f"--input {source}: no such file or folder; give a GIF or a folder of frame images")
    try:
        if source.is_dir():
            files = sorted(p for p in source.iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp"))
            if not files:
                raise UserError(f"--input {source}/ holds no frame images (.png, .jpg, .bmp)")
            frames = []
            for p in files:
                with Image.open(p) as im:
                    frames.append(np.asarray(im.convert("L")))
        else:
            with Image.open(source) as im:
                frames = [np.asarray(f.convert("L")) for f in ImageSequence.Iterator(im)]
    except (OSError, ValueError) as e:
        raise UserError(f"--input {source}: cannot read it as frames ({e})") from None
    if len({f.shape for f in frames}) > 1:
        raise UserError(f"--input {source}: frames differ in size ({sorted({f.shape for f in frames})})")
    return torch.from_numpy(np.stack(frames))


def predict_clip(run_dir: Path, source: str | Path, frames: int = 10, out: str | Path | None = None,
                 checkpoint: Path | None = None, force: bool = False, device: str = "auto") -> Path:
    """Predict `frames` frames after the clip `source` with the video run in run_dir; write a GIF of the input
    then the prediction to `out` (default RUN/predicted/<input name>.gif) and return its path."""
    from ganforge import runs

    run_dir, source = Path(run_dir), Path(source)
    if frames < 1:
        raise UserError(f"--frames must be at least 1, got {frames}")
    out = Path(out) if out is not None else run_dir / "predicted" / f"{source.stem}.gif"
    if out.suffix.lower() != ".gif":
        raise UserError(f"--out {out}: the prediction is written as a .gif")
    if out.exists() and not force:
        raise UserError(f"{out} exists; pass --force to replace it")
    family, data_info, _ = runs.load_family(run_dir, checkpoint, device)
    if data_info["kind"] != "video":
        raise UserError(f"{run_dir} is a {data_info['kind']} run; `ganforge predict` needs a video run "
                        "(model.family=video)")
    clip = read_frames(source)
    size, context = tuple(data_info["shape"][1:]), family.options.context
    if tuple(clip.shape[1:]) != size:
        raise UserError(f"--input {source}: frames of {clip.shape[1]}x{clip.shape[2]}, and the run predicts "
                        f"{size[0]}x{size[1]} frames")
    if len(clip) < context:
        raise UserError(f"--input {source}: {len(clip)} frame(s); the run reads the last {context}")
    dev = next(family.parameters()).device
    family.eval()
    past = clip[None].to(dev).float().div(127.5).sub(1.0)
    predicted = family.predict(past, frames).cpu()
    sequence = torch.cat([past.cpu(), predicted], 1)[0]
    out.parent.mkdir(parents=True, exist_ok=True)
    return save_clip_gif(list(to_frames_uint8(sequence).numpy()), out)
