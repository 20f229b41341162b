"""Plots: 1-D and 2-D toy samples, 2-D codes, training curves, the truncation sweep.

They use matplotlib's object API (`Figure` + `FigureCanvasAgg`) instead of pyplot: no backend is selected,
no global figure state is touched, and it works without a display.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ganforge.errors import UserError
from ganforge.files import atomic_write
from ganforge.viz.images import _check_suffix, _even_indices

# matplotlib is imported inside the plotting functions: it costs a noticeable fraction of a second and most
# commands (and the training loop, which only writes grids) never plot.
_PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".eps", ".ps")
_DPI = 100


def _new_figure(width_in: float, height_in: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_in, height_in), dpi=_DPI)
    FigureCanvasAgg(fig)  # attaches itself to fig; no pyplot, no global backend
    return fig


def _save_figure(fig, path: Path) -> Path:
    try:
        with atomic_write(path) as f:
            # format is explicit because matplotlib cannot see the suffix through a file object
            fig.savefig(f, format=path.suffix.lower().lstrip("."), dpi=_DPI)
    finally:
        fig.clear()  # drop artists now rather than waiting for the garbage collector
    return path


def _as_points(a: np.ndarray | None, name: str) -> np.ndarray | None:
    if a is None:
        return None
    a = np.asarray(a, dtype=float)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"{name} must be an N x 2 array, got shape {a.shape}")
    return a


def plot_samples_2d(
    samples: np.ndarray,
    path: str | os.PathLike,
    modes: np.ndarray | None = None,
    sigma: float | None = None,
    real: np.ndarray | None = None,
    title: str | None = None,
) -> Path:
    """Scatter generated 2-D samples over real data (light grey) and mode centres (red crosses).

    With `sigma`, a 3-sigma circle is drawn around each mode. The view is fixed by `modes`/`real` (plus a
    margin) rather than by the samples, so plots from different training steps line up; samples outside
    the view are counted in the corner.
    """
    from matplotlib.patches import Circle

    path = Path(path)
    _check_suffix(path, _PLOT_SUFFIXES, "a plot")
    samples = _as_points(samples, "samples")
    modes = _as_points(modes, "modes")
    real = _as_points(real, "real")

    ref = [a for a in (modes, real) if a is not None and len(a)] or [samples]
    pts = np.concatenate(ref)
    pts = pts[np.isfinite(pts).all(axis=1)]
    lo, hi = (pts.min(axis=0), pts.max(axis=0)) if len(pts) else (np.array([-1.0, -1.0]), np.ones(2))
    margin = 0.1 * max(float((hi - lo).max()), 1e-6) + (3 * sigma if sigma and modes is not None else 0.0)
    lo, hi = lo - margin, hi + margin

    fig = _new_figure(5.0, 5.0)
    ax = fig.add_subplot()
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=4, c="0.8", linewidths=0, label="real", zorder=1)
    ax.scatter(
        samples[:, 0], samples[:, 1], s=3, c="tab:blue", alpha=0.6, linewidths=0, label="generated", zorder=2
    )
    if modes is not None:
        ax.scatter(
            modes[:, 0], modes[:, 1], marker="x", s=40, c="red", linewidths=1.5, label="modes", zorder=3
        )
        if sigma:
            for m in modes:
                ax.add_patch(Circle(m, 3 * sigma, fill=False, ec="red", lw=0.8, alpha=0.5, zorder=3))
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal", adjustable="box")
    inside = ((samples >= lo) & (samples <= hi)).all(axis=1)
    if not inside.all():
        ax.text(
            0.01,
            0.01,
            f"{int((~inside).sum())} of {len(samples)} samples outside view",
            transform=ax.transAxes,
            fontsize=8,
            va="bottom",
        )
    ax.legend(loc="upper right", fontsize=8, markerscale=2)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return _save_figure(fig, path)


def _kde(values: np.ndarray, grid: np.ndarray, max_points: int = 4000) -> np.ndarray | None:
    """Gaussian kernel density of `values` on `grid` (Silverman bandwidth); None if there are no values."""
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    if v.size > max_points:  # enough for a smooth curve; keeps plotting O(grid) not O(grid * samples)
        v = np.random.default_rng(0).choice(v, max_points, replace=False)
    # floor on the bandwidth: a collapsed generator (all samples equal) would otherwise divide by zero
    span = float(grid.max() - grid.min()) if grid.size > 1 else 1.0
    bw = max(1.06 * float(v.std()) * v.size ** (-1 / 5), span / 200, 1e-6)
    z = (grid[:, None] - v[None, :]) / bw
    return np.exp(-0.5 * z**2).sum(axis=1) / (v.size * bw * math.sqrt(2 * math.pi))


def plot_samples_1d(
    path: str | os.PathLike, real: np.ndarray, snapshots: Sequence[dict], title: str | None = None
) -> Path:
    """The Goodfellow et al. (2014) Fig. 1 picture for a 1-D GAN, one panel per snapshot (at most 5).

    Each snapshot is {"step": int, "x": grid, "d": D(x) on the grid (probabilities), "fake": samples}.
    More than 5 snapshots: evenly spaced ones are used, first and last included. Panels show p_data (black
    dotted, KDE of `real`), p_g (green solid, KDE of "fake") and D(x) (blue dashed) over a shared x range.
    Each panel is titled "step N" under `title`; a single panel gets one title, "`title`, step N" (or `title`
    alone when it already names the step), so a training frame does not say its step twice.
    """
    path = Path(path)
    _check_suffix(path, _PLOT_SUFFIXES, "a plot")
    if not snapshots:
        raise UserError(f"no snapshots to plot into '{path}'")
    shown = [snapshots[i] for i in _even_indices(len(snapshots), 5)]

    lo = min(float(np.min(s["x"])) for s in shown)
    hi = max(float(np.max(s["x"])) for s in shown)
    grid = np.linspace(lo, hi, 400)
    p_data = _kde(real, grid)
    # shared y: room for D in [0, 1] and the data density; a collapsed p_g may spike off the top, which is
    # itself the message
    top = max(1.05, 1.25 * float(p_data.max()) if p_data is not None else 0.0)

    fig = _new_figure(3.2 * len(shown), 3.0)
    axes = fig.subplots(1, len(shown), sharex=True, sharey=True, squeeze=False)[0]
    for ax, snap in zip(axes, shown):
        if p_data is not None:
            ax.plot(grid, p_data, "k:", lw=1.5, label=r"$p_{\mathrm{data}}$")
        p_g = _kde(snap["fake"], grid)
        if p_g is not None:
            ax.plot(grid, p_g, "-", color="green", lw=1.5, label=r"$p_g$")
        if snap.get("d") is not None:  # a run without a discriminator of points draws p_g alone
            ax.plot(np.asarray(snap["x"], dtype=float).ravel(), np.asarray(snap["d"], dtype=float).ravel(), "--",
                    color="blue", lw=1.5, label=r"$D(x)$")
        step = f"step {snap['step']}"
        if len(shown) == 1 and title:
            ax.set_title(title if step in title else f"{title}, {step}")
        else:
            ax.set_title(step)
        ax.set_xlim(lo, hi)
        ax.set_ylim(0, top)
        ax.set_xlabel("x")
    axes[0].legend(loc="best", fontsize=8)
    if title and len(shown) > 1:
        fig.suptitle(title)
    fig.tight_layout()
    return _save_figure(fig, path)


def _series(records: Sequence[dict], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of the records that have a numeric `key` (and a step)."""
    steps, values = [], []
    for r in records:
        v = r.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool) and "step" in r:
            steps.append(float(r["step"]))
            values.append(float(v))  # NaN/inf kept: matplotlib leaves a gap, which shows the divergence
    return steps, values


def _smooth(steps: list[float], values: list[float]) -> tuple[np.ndarray, np.ndarray] | None:
    """Centred moving average of a long, noisy series (GAN losses jump step to step); None if not needed."""
    n = len(values)
    v = np.asarray(values, dtype=float)
    if n < 100 or not np.isfinite(v).all():
        return None
    w = max(2, n // 50)
    # "valid" mode: no zero padding, so the ends are not dragged towards 0
    avg = np.convolve(v, np.ones(w) / w, mode="valid")
    return np.asarray(steps)[w // 2 : w // 2 + len(avg)], avg


SPARSE_SERIES = 30  # series of at most this many points are drawn with markers


def plot_curves(
    records: Sequence[dict], path: str | os.PathLike, keys: Sequence[str], title: str | None = None
) -> Path:
    """Training curves from metrics.jsonl records ({"step": ..., key: value, ...}) against step.

    Panels: all keys starting with "loss" together; "d_real"/"d_fake" (mean D(x), D(G(z))) together with a
    dotted line at 0.5, the equilibrium value; every other key on its own. Keys that no record has are
    skipped; if none are left the file says so instead of failing (plotting never stops training).
    Long series are drawn faint with a moving average on top; short ones (evaluations, a run's first log
    line) get point markers, as a line through one point draws nothing.
    """
    path = Path(path)
    _check_suffix(path, _PLOT_SUFFIXES, "a plot")
    present = [k for k in dict.fromkeys(keys) if _series(records, k)[0]]
    groups: list[tuple[str, list[str]]] = []
    losses = [k for k in present if k.startswith("loss")]
    d_out = [k for k in present if k in ("d_real", "d_fake")]
    if losses:
        groups.append(("loss", losses))
    if d_out:
        groups.append(("D output", d_out))
    groups += [(k, [k]) for k in present if k not in losses and k not in d_out]

    fig = _new_figure(4.5 * max(1, len(groups)), 3.2)
    if not groups:
        fig.text(0.5, 0.5, f"no data for {', '.join(keys) or 'any key'}", ha="center", va="center")
    else:
        axes = fig.subplots(1, len(groups), squeeze=False)[0]
        for ax, (name, group) in zip(axes, groups):
            for i, key in enumerate(group):
                color = f"C{i}"
                steps, values = _series(records, key)
                smooth = _smooth(steps, values)
                if smooth is None:
                    marker = "o" if len(steps) <= SPARSE_SERIES else None
                    ax.plot(steps, values, color=color, lw=1.2, marker=marker, ms=4, label=key)
                else:
                    ax.plot(steps, values, color=color, lw=0.6, alpha=0.3)
                    ax.plot(*smooth, color=color, lw=1.5, label=key)
            if name == "D output":
                ax.axhline(0.5, color="0.4", ls=":", lw=1, label="0.5 (equilibrium)")
                ax.set_ylim(-0.02, 1.02)
            ax.set_xlabel("step")
            ax.set_title(name)
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save_figure(fig, path)


CODE_VIEW = 7.0  # codes are drawn in [-7, 7]^2, so frames of a run line up (the 2-D priors fit in [-5, 5]^2)


def plot_codes(
    codes: np.ndarray,
    labels: np.ndarray | None,
    path: str | os.PathLike,
    title: str | None = None,
    centres: np.ndarray | None = None,
    class_names: Sequence[str] | None = None,
) -> Path:
    """Scatter 2-D codes coloured by class (tab10), with the prior's component centres as black crosses and
    the number of codes outside the fixed view in the corner."""
    path = Path(path)
    _check_suffix(path, _PLOT_SUFFIXES, "a plot")
    codes = _as_points(codes, "codes")
    fig = _new_figure(5.5, 5.0)
    ax = fig.add_subplot()
    if labels is None:
        ax.scatter(codes[:, 0], codes[:, 1], s=3, c="tab:blue", alpha=0.6, linewidths=0)
    else:
        for k in np.unique(labels):
            sel = labels == k
            name = class_names[int(k)] if class_names and int(k) < len(class_names) else str(int(k))
            ax.scatter(codes[sel, 0], codes[sel, 1], s=3, color=f"C{int(k) % 10}", alpha=0.7, linewidths=0,
                       label=name)
        ax.legend(loc="upper right", fontsize=6, markerscale=3, framealpha=0.7)
    if centres is not None:
        ax.scatter(centres[:, 0], centres[:, 1], marker="x", s=30, c="black", linewidths=1.2, zorder=3)
    ax.set_xlim(-CODE_VIEW, CODE_VIEW)
    ax.set_ylim(-CODE_VIEW, CODE_VIEW)
    ax.set_aspect("equal", adjustable="box")
    outside = int((np.abs(codes) > CODE_VIEW).any(axis=1).sum())
    if outside:
        ax.text(0.01, 0.01, f"{outside} outside the view", transform=ax.transAxes, fontsize=7)
    if title:
        ax.set_title(title, fontsize=9)
    return _save_figure(fig, path)


def plot_truncation(rows: Sequence[dict], path: str | os.PathLike, features: str) -> Path:
    """Precision and recall, and class accuracy where the rows have it (left), and the FD (right) against the
    truncation psi; rows[0] (psi None, no truncation) as dotted lines. Stronger truncation to the right."""
    path = Path(path)
    _check_suffix(path, (".png",), "a plot")
    points = [r for r in rows if r["psi"] is not None]
    psi = [r["psi"] for r in points]
    fig = _new_figure(9, 3.4)
    left, right = fig.subplots(1, 2)
    keys = (("precision", "o-", "C0"), ("recall", "s-", "C1"), ("class_accuracy", "^-", "C3"))
    for key, style, colour in (k for k in keys if k[0] in rows[0]):
        left.plot(psi, [r[key] for r in points], style, color=colour, label=key)
        left.axhline(rows[0][key], ls=":", color=colour, lw=1)
    left.set(xlabel="truncation psi (dotted: none)", ylabel="k-NN precision, recall (k=3)"
             + (", class accuracy" if "class_accuracy" in rows[0] else ""))
    left.legend()
    right.plot(psi, [r["fd"] for r in points], "o-", color="C2")
    right.axhline(rows[0]["fd"], ls=":", color="C2", lw=1)
    right.set(xlabel="truncation psi (dotted: none)", ylabel=f"FD ({features})")
    for ax in (left, right):
        ax.invert_xaxis()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _save_figure(fig, path)
