"""Metrics: running sums on the device, read only at log time; metrics.jsonl, TensorBoard, a progress bar."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

# how the progress bar and the console name each statistic
SHORT = {"loss_d": "D loss", "loss_g": "G loss", "d_real": "D(x)", "d_fake": "D(G(z))"}


class RunningStats:
    """Sums of per-step scalars kept on the device: adding is an asynchronous kernel, not a host sync."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, stats: dict[str, torch.Tensor]) -> None:
        for key, value in stats.items():
            value = value.detach().float()
            self.sums[key] = self.sums[key] + value if key in self.sums else value.clone()
            self.counts[key] = self.counts.get(key, 0) + 1

    def read_and_reset(self) -> dict[str, float]:
        """Means since the last read: the one place a host-device sync happens."""
        if not self.sums:
            return {}
        keys = list(self.sums)
        values = torch.stack([self.sums[k] / self.counts[k] for k in keys]).tolist()
        self.sums.clear()
        self.counts.clear()
        return dict(zip(keys, values))


class MetricsLog:
    """metrics.jsonl (one JSON object per log step), TensorBoard events, and the progress bar."""

    def __init__(self, run_dir: Path, total_steps: int, start_step: int, start_images: int, quiet: bool,
                 tensorboard: bool):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # imported lazily: it is slow to import

            self.writer = SummaryWriter(str(Path(run_dir) / "tensorboard"), purge_step=start_step or None)
        self.bar = tqdm(total=total_steps, initial=start_step, unit="step", dynamic_ncols=True,
                        disable=quiet, file=sys.stderr, desc="train")
        self.last_time, self.last_step, self.last_images = time.perf_counter(), start_step, start_images

    def log(self, step: int, images_seen: int, values: dict[str, float]) -> dict:
        """One line of metrics; the speeds are over the steps since the last line, in the images the trainer
        drew (the family's batch, which may change with the step)."""
        now = time.perf_counter()
        seconds = max(now - self.last_time, 1e-9)
        steps_per_s, images_per_s = (step - self.last_step) / seconds, (images_seen - self.last_images) / seconds
        self.last_time, self.last_step, self.last_images = now, step, images_seen
        record = {"step": step, "images": images_seen, **{k: round(v, 6) for k, v in values.items()},
                  "steps_per_s": round(steps_per_s, 3), "images_per_s": round(images_per_s, 1)}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"train/{key}", value, step)
            self.writer.add_scalar("speed/images_per_s", record["images_per_s"], step)
        postfix = {SHORT.get(k, k): f"{v:.3f}" for k, v in values.items()}
        postfix["img/s"] = f"{record['images_per_s']:.0f}"
        self.bar.set_postfix(postfix, refresh=False)
        return record

    def log_eval(self, step: int, images_seen: int, values: dict[str, float]) -> dict:
        """An evaluation's values: their own line in metrics.jsonl, "eval/" in TensorBoard."""
        record = {"step": step, "images": images_seen, **{k: round(v, 6) for k, v in values.items()}}
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"eval/{key.removeprefix('eval_')}", value, step)
        return record

    def log_event(self, step: int, event: dict) -> None:
        """A training event (a rollback, a divergence) in metrics.jsonl, and one line on the console."""
        with open(self.path, "a") as f:
            f.write(json.dumps({"step": step, **event}) + "\n")
        detail = ", ".join(f"{k} {v}" for k, v in event.items() if k != "event")
        self.bar.write(f"{event['event']} at step {step}: {detail}", file=sys.stderr)

    def rewind(self, step: int, images_seen: int) -> None:
        """The run went back to `step` (a rollback): the bar and the speed measurement follow."""
        self.bar.n = step
        self.bar.refresh()
        self.last_step, self.last_images, self.last_time = step, images_seen, time.perf_counter()

    def advance(self, n: int = 1) -> None:
        self.bar.update(n)

    def add_image(self, tag: str, image_hwc, step: int) -> None:
        if self.writer is not None:
            self.writer.add_image(tag, image_hwc, step, dataformats="HWC" if image_hwc.ndim == 3 else "HW")

    def close(self) -> None:
        self.bar.close()
        if self.writer is not None:
            self.writer.close()


class NullLog:
    """What ranks other than 0 log in multi-process training: nothing (rank 0 writes for everyone)."""

    def log(self, step: int, images_seen: int, values: dict[str, float]) -> dict:
        return {}

    def log_eval(self, step: int, images_seen: int, values: dict[str, float]) -> dict:
        return {}

    def log_event(self, step: int, event: dict) -> None:
        pass

    def rewind(self, step: int, images_seen: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def add_image(self, tag: str, image_hwc, step: int) -> None:
        pass

    def close(self) -> None:
        pass
