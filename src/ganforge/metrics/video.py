"""Metrics of video prediction, frame by frame, on frames as floats in [0, 1] (N x T x H x W).

- `frame_mse`: per frame, the sum over pixels of the squared error, as OpenSTL's Moving MNIST tables report
  MSE (pixels in [0, 1], summed over the 64 x 64 frame, averaged over sequences).
- `frame_ssim`: per frame, SSIM of Wang et al. 2004 (11 x 11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03,
  data range 1; metrics/translation.ssim).
- `frame_sharpness`: Mathieu et al. 2016's sharpness difference (section 4), a PSNR on image gradients:
  10 log10(max^2 / mean |(|dx Y| + |dy Y|) - (|dx P| + |dy P|)|), with dx Y = Y[i, j] - Y[i - 1, j] and
  dy Y = Y[i, j] - Y[i, j - 1] over the (H - 1) x (W - 1) pixels where both exist; max = 1. Higher: the
  prediction's edges are where and as strong as the truth's.
`score_video_run` measures a video run's 10-frame rollouts on the first n generated Moving MNIST test
sequences, beside copy-the-last-frame, by the same code.
"""

from __future__ import annotations

import torch
from tqdm import tqdm

from ganforge.metrics.translation import ssim

SHARPNESS_CAP = 100.0  # dB where the gradients agree exactly


def _check(pred: torch.Tensor, true: torch.Tensor) -> None:
    if pred.shape != true.shape or pred.dim() != 4:
        raise ValueError(f"two N x T x H x W clips of one shape expected, got {tuple(pred.shape)} and {tuple(true.shape)}")


def frame_mse(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """N x T: the squared error of each frame summed over its pixels."""
    _check(pred, true)
    return (pred.double() - true.double()).pow(2).sum((2, 3)).float()


def frame_ssim(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """N x T: SSIM of each frame with its truth."""
    _check(pred, true)
    n, t = pred.shape[:2]
    return ssim(pred.reshape(n * t, 1, *pred.shape[2:]), true.reshape(n * t, 1, *true.shape[2:])).view(n, t)


def gradient_magnitude(y: torch.Tensor) -> torch.Tensor:
    """|dx y| + |dy y| over the pixels with both a row and a column before them: ... x (H - 1) x (W - 1)."""
    dx = y[..., 1:, 1:] - y[..., :-1, 1:]
    dy = y[..., 1:, 1:] - y[..., 1:, :-1]
    return dx.abs() + dy.abs()


def frame_sharpness(pred: torch.Tensor, true: torch.Tensor, peak: float = 1.0) -> torch.Tensor:
    """N x T: Mathieu et al.'s sharpness difference of each frame in dB (capped at SHARPNESS_CAP)."""
    _check(pred, true)
    diff = (gradient_magnitude(true.double()) - gradient_magnitude(pred.double())).abs().mean((2, 3))
    return (10 * torch.log10(peak**2 / diff.clamp_min(peak**2 * 10 ** (-SHARPNESS_CAP / 10)))).float()


def score_frames(pred: torch.Tensor, true: torch.Tensor) -> dict[str, torch.Tensor]:
    """The three metrics per frame, N x T each, of predictions and truths in [0, 1]."""
    return {"mse": frame_mse(pred, true), "ssim": frame_ssim(pred, true), "sharpness": frame_sharpness(pred, true)}


def copy_last(past: torch.Tensor, n: int) -> torch.Tensor:
    """The baseline prediction: the last past frame, n times."""
    return past[:, -1:].expand(-1, n, -1, -1)


def summarise(per_frame: dict[str, torch.Tensor], prefix: str = "") -> dict[str, float]:
    """<prefix><metric>_<t> for t = 1..T (the mean over sequences of frame t) and <prefix><metric>_mean."""
    out = {}
    for name, values in per_frame.items():
        means = values.double().mean(0)
        out.update({f"{prefix}{name}_{t + 1}": float(v) for t, v in enumerate(means)})
        out[f"{prefix}{name}_mean"] = float(means.mean())
    return out


@torch.no_grad()
def measure(predict, clips: torch.Tensor, n_in: int, batch: int = 100, progress: bool = False) -> dict[str, float]:
    """Metrics of `predict(past) -> future` (uint8 B x n_in x H x W -> floats in [0, 1], B x n_out x H x W) on
    uint8 clips N x (n_in + n_out) x H x W, summarised per frame (summarise)."""
    parts: dict[str, list[torch.Tensor]] = {}
    for i in tqdm(range(0, len(clips), batch), desc="predict", disable=not progress, leave=False):
        part = clips[i : i + batch]
        true = part[:, n_in:].float() / 255.0
        pred = predict(part[:, :n_in])
        for k, v in score_frames(pred.float().cpu(), true).items():
            parts.setdefault(k, []).append(v)
    return summarise({k: torch.cat(v) for k, v in parts.items()})


def model_predictor(g, n_out: int, quantise: bool = True):
    """`measure`'s predict for a frame predictor `g` (PredictsFrames: a video run's Generator): its rollout of
    n_out frames, rounded to uint8 levels as a saved frame would be (quantise)."""

    def predict(past: torch.Tensor) -> torch.Tensor:
        x = past.to(g.device).float().div(127.5).sub(1.0)
        out = ((g.predict(x, n_out) + 1) * 127.5).cpu()
        return (out.round().clamp(0, 255) if quantise else out.clamp(0, 255)) / 255.0

    return predict


def score_video_run(g, n: int | None, progress: bool = True) -> tuple[dict, dict]:
    """A video run's (its Generator `g`: PredictsFrames) 10-frame rollouts and copy-last on the first n
    (default 1,000) Moving MNIST test clips."""
    from ganforge.data.moving_mnist import INPUT_FRAMES, N_TEST, TEST_SEED, sequences
    from ganforge.data.registry import load_dataset
    from ganforge.errors import UserError

    data = g.cfg.data
    if data.name != "moving-mnist":
        raise UserError(f"video runs are measured on the moving-mnist test set; this run trained on {data.name}")
    n = min(n or 1000, N_TEST)
    clips = sequences(load_dataset("mnist", root=data.root, split="test").x, "test", n=n)
    values = measure(model_predictor(g, clips.shape[1] - INPUT_FRAMES), clips, INPUT_FRAMES, progress=progress)
    last = measure(lambda past: copy_last(past.float() / 255.0, clips.shape[1] - INPUT_FRAMES), clips, INPUT_FRAMES)
    values.update({f"copy_last_{k}": v for k, v in last.items()})
    protocol = {"dataset": "moving-mnist", "split": "test", "n_clips": n, "test_seed": TEST_SEED,
                "frames": f"{INPUT_FRAMES} in, {clips.shape[1] - INPUT_FRAMES} predicted with feedback",
                "mse": "per frame, squared error summed over the 64x64 pixels in [0, 1] (OpenSTL), mean over clips",
                "ssim": "per frame, 11x11 Gaussian window sigma 1.5, K1 0.01, K2 0.03, data range 1",
                "sharpness": "Mathieu et al. 2016 sharpness difference in dB (gradient PSNR, max 1)",
                "quantised": "predictions rounded to uint8 levels as a saved frame", "copy_last": "the last input "
                "frame repeated, by the same code", "note": "the test set is generated by ganforge (seeded), not "
                "the usual mnist_test_seq.npy"}
    return values, protocol
