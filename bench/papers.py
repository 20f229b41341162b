"""Every family against its paper: an index of the rows of the quality table (docs/quality.md's first), each
with the bench script and arguments that measure it, the files it caches, and a reader that takes the row's
figure from them.

    python bench/papers.py ROW [--dry-run]     run the row's commands (each resumes from its own cache)
    python bench/papers.py --list              the rows and their commands
    python bench/papers.py --table [--write]   the headline table from the caches alone; --write puts it
                                               between the markers in docs/quality.md

A row no bench script measures says so and names the `ganforge` commands that do, by hand. The caches are
the scripts' own, keyed by what changes their results (runkeys): a reader takes only an entry of the row's
key (steps, samples, recipe), and the table says which step and protocol each figure came from; a row with
no cache here shows the figure last measured, marked "previous".
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import runkeys

ROOT = Path(__file__).resolve().parents[1]
DOCS = "docs/quality.md"
BEGIN, END = "<!-- papers table: begin -->", "<!-- papers table: end -->"
TTQ_N = 2000  # time_to_quality's --n as the rows run it: part of a mark's key
DE_N = 10000  # data_efficiency's --n as its row runs it: two 2,000-sample readings of one run differ by up to 0.3
DE_STEPS = 24000  # D memorises the 1,000 images (its output on them near 1) and the FD is tracked along the way
DE_SETS = ("eval.every=2000", "train.threads=1")  # the curves of docs/quality.md; one thread per run
# the name data_efficiency gives that table (runkeys; a test holds the two together)
DE_TABLE = f"runs/data-efficiency/{runkeys.keyed('table', runkeys.run_key({'steps': DE_STEPS, 'n': DE_N}, DE_SETS))}.json"


class Command(NamedTuple):  # not dataclasses: the tests run a script before it is in sys.modules
    script: str
    args: tuple[str, ...] = ()
    threads: int | None = None  # OMP_NUM_THREADS: the rows measured on one thread are run on one

    def line(self) -> str:
        env = f"OMP_NUM_THREADS={self.threads} " if self.threads else ""
        return env + shlex.join(["python", self.script, *self.args])


class Reading(NamedTuple):
    value: float | None  # None: the target was not reached within what was measured (a miss)
    shown: str
    source: str  # the step, samples and protocol the figure came from


class Row(NamedTuple):
    name: str
    title: str  # the row's wording in the quality table
    commands: tuple[Command, ...]  # empty: no bench script measures the row
    by_hand: tuple[str, ...]  # the ganforge commands that measure it where no script does
    caches: tuple[str, ...]
    read: Callable[[Path], Reading | None]
    op: str  # the figure against the target: "<=", ">=" or "<"
    target: float
    target_text: str
    previous: float | None
    previous_text: str
    page: str
    needs: tuple[str, str] | None = None  # (a file, the row that makes it) when another row must run first
    note: str = ""

    def met(self, value: float | None) -> bool:
        if value is None:
            return False
        return {"<=": value <= self.target, ">=": value >= self.target, "<": value < self.target}[self.op]


def load(path: Path):
    return json.loads(path.read_text()) if path.is_file() else None


def preset_digest(preset: str) -> str:
    """8 hex digits of a preset's file: a script that records no key caches under this, so a changed recipe
    never reads an old result (found without importing ganforge: --list stays instant)."""
    folder = Path(importlib.util.find_spec("ganforge").submodule_search_locations[0])
    return hashlib.sha256((folder / "presets" / f"{preset}.yaml").read_bytes()).hexdigest()[:8]


def eval_entry(run: Path, preset: str, metric: str, **protocol) -> tuple[dict, dict] | None:
    """(values, protocol) of the newest `ganforge eval` of the run's last step, the preset's full training,
    that measured `metric` with these protocol fields (a text field by its start: "inception"), else None."""
    summary, evals = load(run / "summary.json"), load(run / "eval.json")
    if summary is None or evals is None or summary["steps"] != runkeys.preset_steps(preset):
        return None
    for entry in reversed(evals.get("evaluations", [evals])):
        p = entry["protocol"]
        if (metric in entry["values"] and p.get("checkpoint_step") == summary["steps"]
                and all(p.get(k) == v or isinstance(v, str) and str(p.get(k, "")).startswith(v)
                        for k, v in protocol.items())):
            return entry["values"], p
    return None


def evaluated(preset: str, metric: str, scale: float = 1.0, unit: str = "", **protocol):
    """A by-hand row's reader: `metric` (times scale) of `ganforge eval` on runs/PRESET."""
    def read(root: Path) -> Reading | None:
        if (found := eval_entry(root / "runs" / preset, preset, metric, **protocol)) is None:
            return None
        values, p = found
        return Reading(scale * values[metric], f"{scale * values[metric]:.2f}{unit}",
                       f"step {p['checkpoint_step']:,}, {p['n_fake']:,} samples vs {p['n_real']:,} test, {p.get('extractor')}")
    return read


CAS_N = 60_000  # CAS trains on as many samples as the real classifier had training images (Ravuri and Vinyals)


def cas(real: float, presets: tuple[str, ...]):
    """The gap in points from the domain classifier's own accuracy on real test images to the best CAS of
    CAS_N samples."""
    def read(root: Path) -> Reading | None:
        found = [(f[0]["cas"], f[1], p) for p in presets
                 if (f := eval_entry(root / "runs" / p, p, "cas", n_fake=CAS_N)) is not None]
        if not found:
            return None
        best, protocol, preset = max(found, key=lambda f: f[0])
        return Reading(real - 100 * best, f"{100 * best:.2f}% (real {real:.2f}%): {real - 100 * best:.2f} points",
                       f"`{preset}` step {protocol['checkpoint_step']:,}, CAS of {CAS_N:,} samples")
    return read


def ttq_marks(root: Path, out: str, path: str, config: str | None) -> dict[float, dict]:
    """{minutes: fd_classifier and steps} of time_to_quality's table.json for one path, each mark only while
    the samples it scored are still those of the path's key (recipe, n, noise) and step."""
    table = load(root / out / "table.json")
    if table is None:
        return {}
    import numpy as np
    import time_to_quality as ttq

    folder, key, marks = ttq.path_folder(path, config), ttq.mark_key(path, config, TTQ_N), {}
    for minutes, row in table.get(folder, {}).items():
        mark = root / out / folder / f"mark_{float(minutes):g}.npz"
        if mark.is_file():
            with np.load(mark) as data:
                if "key" in data and str(data["key"]) == key and int(data["steps"]) == row["steps"]:
                    marks[float(minutes)] = row
    return marks


def time_to_textbook(root: Path) -> Reading | None:
    textbook, ours = (ttq_marks(root, "runs/time-to-quality", p, None) for p in ("textbook", "ganforge"))
    if 30 not in textbook or not ours:
        return None
    import time_to_quality as ttq

    aim, last = textbook[30]["fd_classifier"], max(ours)
    reach = ttq.first_time_at_or_below(ours, aim)
    shown = f"{reach:.1f} min" if reach is not None else \
        f"not within {last:g} min ({ours[last]['fd_classifier']:.2f} at {last:g})"
    return Reading(reach, f"{shown}; textbook {aim:.2f} at 30",
                   f"fd_classifier, {TTQ_N:,} samples; marks {', '.join(f'{m:g}' for m in sorted(ours))} min, "
                   f"{ours[last]['steps']:,} steps at {last:g}")


def stylegan_vs_dcgan(root: Path) -> Reading | None:
    style = ttq_marks(root, "runs/time-to-quality-stylegan", "ganforge", "stylegan-fashion").get(30)
    dcgan = ttq_marks(root, "runs/time-to-quality", "ganforge", None).get(30)
    if style is None or dcgan is None:
        return None
    s, d = style["fd_classifier"], dcgan["fd_classifier"]
    return Reading(s / d, f"{s:.2f} vs {d:.2f} ({s / d:.2f}x)",
                   f"30 min, one thread each: {style['steps']:,} vs {dcgan['steps']:,} steps; {TTQ_N:,} samples")


def toy_grid(root: Path) -> Reading | None:
    runs = [r for r in load(root / TOY_JSON) or [] if r["data"] == "grid" and r["variant"] == "best"]
    if not runs:
        return None
    hq = [100 * r["high_quality"] for r in runs]
    low = min(range(len(runs)), key=hq.__getitem__)
    steps = f"step {runs[0]['steps']:,}, " if "steps" in runs[0] else ""  # recorded since results are cached
    return Reading(hq[low], f"lowest {hq[low]:.1f}% (seed {runs[low]['seed']}), mean {sum(hq) / len(hq):.1f}%",
                   f"{steps}{len(runs)} seeds, {runs[0]['n_samples']:,} samples each, preset {TOY_JSON.stem[-8:]}")


def stacked(root: Path) -> Reading | None:
    runs = [r for r in load(root / STACKED_JSON) or [] if r["variant"] == "wide-r1-ema"]
    if not runs:
        return None
    kl = sum(r["kl"] for r in runs) / len(runs)
    return Reading(kl, f"KL {kl:.3f}, {min(r['modes'] for r in runs):,} modes",
                   f"step {runs[0]['steps']:,}, {runs[0]['n_samples']:,} samples, {len(runs)} seed(s)")


def entries(root: Path, path: str, *names: str, **protocol) -> list[dict] | None:
    """The named entries of a script's table when each is there with these protocol fields (runkeys), else None:
    an entry of other steps or --set has another name, one of another --n is not this row's."""
    table = load(root / path) or {}
    found = [table.get(name) for name in names]
    return found if all(runkeys.matches(e, **protocol) for e in found) else None


def pix2pix_gap(root: Path) -> Reading | None:
    if (found := entries(root, "runs/translation/pix2pix.json", "l1-steps10000", "l1+cgan-steps10000",
                         n=10000)) is None:
        return None
    l1, both = found
    share = 100 * (both["class_accuracy"] - l1["class_accuracy"]) / (both["class_accuracy_real"] - l1["class_accuracy"])
    return Reading(share, f"{share:.0f}% (FD cut {100 * (1 - both['fd_classifier'] / l1['fd_classifier']):.0f}%)",
                   f"step {both['steps']:,} and {l1['steps']:,}, {both['n']:,} test pairs")


def vaegan_fd(root: Path) -> Reading | None:
    if (found := entries(root, "runs/exploration/vae.json", "vae", "vaegan", n=10000)) is None:
        return None
    vae, vaegan = found
    ratio = vaegan["fd_classifier"] / vae["fd_classifier"]
    return Reading(ratio, f"{ratio:.2f} ({vaegan['fd_classifier']:.2f} vs {vae['fd_classifier']:.2f})",
                   f"step {vaegan['steps']:,} and {vae['steps']:,}, {vaegan['n']:,} samples")


VAEGAN_RUN = "runs/exploration/vae/vaegan"  # the VAE-GAN of the vaegan-fd row


def vaegan_attribute(root: Path) -> Reading | None:
    found = load(root / "runs/exploration/attribute_vaegan.json")  # named by the run: a --steps run is another
    if found is None or not runkeys.matches(found["protocol"], n=1000, strength=1.0, seed=0, run=VAEGAN_RUN):
        return None
    mean, summary = found["mean"], load(root / VAEGAN_RUN / "summary.json")
    step = f"step {summary['steps']:,}" if summary else "its run gone"
    return Reading(100 * mean["vector_1"], f"{100 * mean['vector_1']:.1f}% (random {100 * mean['random_1']:.1f}%)",
                   f"{step}, 1,000 samples, strength 1")


def video_sharpness(root: Path) -> Reading | None:
    if (found := entries(root, "runs/video/video.json", "l2", "adversarial", n=1000)) is None:
        return None
    l2, adv = found
    gain = adv["sharpness_mean"] - l2["sharpness_mean"]
    return Reading(gain, f"{gain:+.2f} dB ({adv['sharpness_mean']:.2f} vs {l2['sharpness_mean']:.2f})",
                   f"step {adv['steps']:,}, {adv['n']:,} clips, 10 frames")


def data_efficiency(root: Path) -> Reading | None:
    # the file is named by --steps, --subset, --n and --set (runkeys); an older table without n is not read
    if (found := entries(root, DE_TABLE, "none", "diffaugment", "ada", n=DE_N)) is None:
        return None
    none, *augmented = found
    ratios = {v: r["fd_classifier"] / none["fd_classifier"] for v, r in zip(("diffaugment", "ada"), augmented)}
    return Reading(min(ratios.values()), ", ".join(f"{v} {r:.2f}x" for v, r in ratios.items())
                   + f" (none {none['fd_classifier']:.2f})",
                   f"{none['steps']:,} steps on {none['subset']:,} images, {none['n']:,} samples; "
                   f"none's nn_ratio {none['nn_pixel_nn_ratio']:.3f}")


# -- the index --------------------------------------------------------------------------------------------------

TOY_JSON = Path(f"runs/papers/toy-grid-best-{preset_digest('toy-grid-best')}.json")
STACKED_JSON = Path(f"runs/papers/stacked-mnist-{preset_digest('dcgan-stacked-mnist')}.json")
TTQ = "bench/time_to_quality.py"
TTQ_MARKS = ("--marks", "1,2,4,8,10,15,30")  # the 10-minute mark is the row's target
TTQ_GANFORGE = Command(TTQ, ("--paths", "ganforge", *TTQ_MARKS, "--plot", ""), 1)
TTQ_SCORE = Command(TTQ, ("--score-only", *TTQ_MARKS))  # both paths into table.json (each run wrote its own only)


def by_hand(preset: str, *eval_args: str) -> tuple[str, str]:
    return f"ganforge train --config {preset} --out runs/{preset}", shlex.join(["ganforge", "eval", f"runs/{preset}",
                                                                              *eval_args])


ROWS = {row.name: row for row in (
    Row("fashion-30min", "`fashion-30min`, Inception FID 10k vs test", (),
        by_hand("fashion-30min", "--extractor", "inception", "--n", "10000", "--metrics", "fid,kid,pr,dc"),
        ("runs/fashion-30min/eval.json",), evaluated("fashion-30min", "fid", n_fake=10000, extractor="inception"), "<=", 15, "<= 15", 16.21, "16.21",
        "quality.md"),
    Row("mnist-30min", "`mnist-30min`, Inception FID 10k vs test", (),
        by_hand("mnist-30min", "--extractor", "inception", "--n", "10000", "--metrics", "fid,kid,pr,dc"),
        ("runs/mnist-30min/eval.json",), evaluated("mnist-30min", "fid", n_fake=10000, extractor="inception"), "<=", 5, "<= 5 (Lucic et al.'s best 6.7)",
        9.96, "9.96", "quality.md"),
    Row("time-to-quality", "time to the textbook's 30-min fd_classifier",
        (Command(TTQ, ("--paths", "textbook", *TTQ_MARKS, "--plot", ""), 1), TTQ_GANFORGE, TTQ_SCORE), (),
        ("runs/time-to-quality/table.json", "runs/time-to-quality/*/mark_*.npz"), time_to_textbook, "<=", 10,
        "<= 10 min", 10.7, "10.7 min (textbook 2.93 at 30)", "quality.md",
        note="one thread per path, the clock stopped while sampling; a path with a missing mark trains again"),
    Row("cas-fashion", "CAS, acgan/biggan on Fashion-MNIST", (),
        (*by_hand("acgan-fashion", "--metrics", "cas", "--n", str(CAS_N)),
         *by_hand("biggan-fashion", "--metrics", "cas", "--n", str(CAS_N))),
        ("runs/acgan-fashion/eval.json", "runs/biggan-fashion/eval.json"),
        cas(92.24, ("acgan-fashion", "biggan-fashion")), "<=", 5, "within 5 points of 92.24%", 10.04,
        "82.20% (real 92.24%), `biggan-fashion` at 12,000 steps", "conditional.md", note="the better of the two runs"),
    Row("cas-mnist", "CAS, cgan-mnist", (), by_hand("cgan-mnist", "--metrics", "cas", "--n", str(CAS_N)),
        ("runs/cgan-mnist/eval.json",), cas(99.26, ("cgan-mnist",)), "<=", 2, "within 2 points of 99.26%", 2.64,
        "96.62% (real 99.26%), 60,000 samples", "conditional.md"),
    Row("biggan-accuracy", "BigGAN-style class accuracy", (), by_hand("biggan-fashion", "--n", "10000"),
        ("runs/biggan-fashion/eval.json",), evaluated("biggan-fashion", "class_accuracy", 100, "%", n_fake=10000), ">=", 95, ">= 95%", 95.50, "95.50%", "biggan.md"),
    Row("stylegan-vs-dcgan", "StyleGAN vs DCGAN at equal CPU time (30 min, classifier FD)",
        (Command(TTQ, ("--config", "stylegan-fashion", "--paths", "ganforge", "--out", "runs/time-to-quality-stylegan",
                       "--plot", ""), 1), TTQ_GANFORGE, TTQ_SCORE), (),
        ("runs/time-to-quality-stylegan/table.json", "runs/time-to-quality/table.json"), stylegan_vs_dcgan, "<", 1,
        "StyleGAN below (ratio < 1)", 2.75 / 2.10, "2.75 vs 2.10", "stylegan.md",
        note="the DCGAN side is the time-to-quality row's ganforge path"),
    Row("toy-grid-best", "2-D grid, `toy-grid-best`, high-quality share on every seed",
        (Command("bench/mode_collapse.py", ("--data", "grid", "--variants", "best", "--json", str(TOY_JSON))),), (),
        (str(TOY_JSON),), toy_grid, ">=", 95, ">= 95% on every seed (then 97%)", 96.2,
        "lowest 96.2% (seed 2), mean 97.3%, at 24,000 steps on one thread", "mode-collapse.md",
        note="each seed is cached in runs/mode-collapse as it is measured: a rerun measures only those missing"),
    Row("stacked-mnist", "Stacked MNIST, best recipe",
        (Command("bench/stacked_mnist.py", ("--variants", "wide-r1-ema", "--json", str(STACKED_JSON))),), (),
        (str(STACKED_JSON),), stacked, "<=", 0.05, "KL <= 0.05", 0.084, "1,000 modes, KL 0.084", "mode-collapse.md",
        note="each seed is cached in runs/stacked-mnist as it is measured: a rerun measures only those missing"),
    Row("pix2pix-gap", "pix2pix, share of the L1-only-to-real accuracy gap closed",
        (Command("bench/translation.py", ("pix2pix", "--steps", "10000", "--rows", "l1,l1+cgan")),), (),
        ("runs/translation/pix2pix.json",), pix2pix_gap, ">=", 50, "half", 27, "27% (FD cut 19%)", "pix2pix.md"),
    Row("vaegan-fd", "VAE-GAN vs VAE, classifier FD", (Command("bench/exploration.py", ("vae",)),), (),
        ("runs/exploration/vae.json",), vaegan_fd, "<=", 0.5, "ratio <= 0.5", 0.69, "ratio 0.69", "vaegan.md"),
    Row("vaegan-attribute", "attribute vectors through the VAE-GAN encoder, strength 1",
        (Command("bench/exploration.py", ("attribute", VAEGAN_RUN)),), (),
        ("runs/exploration/attribute_vaegan.json",), vaegan_attribute, ">=", 80, ">= 80%", 73.5,
        "73.5% (random 5.3%)", "exploration.md", needs=(f"{VAEGAN_RUN}/summary.json", "vaegan-fd")),
    Row("video-sharpness", "video: sharpness gain of the adversarial model over L2",
        (Command("bench/video.py", (), 1),), (), ("runs/video/video.json",), video_sharpness, ">=", 1, ">= +1 dB",
        0.47, "+0.47 dB", "video.md"),
    Row("data-efficiency", "data efficiency: 1,000 images, augmentation vs none",
        (Command("bench/data_efficiency.py", ("--steps", str(DE_STEPS), "--n", str(DE_N),
                                             *(x for item in DE_SETS for x in ("--set", item))), 1),), (), (DE_TABLE,), data_efficiency,
        "<=", 0.5, "augmentation halves the FD (<= 0.5x)", 0.87, "ada 0.87x, diffaugment 1.20x at 24,000 steps", "quality.md",
        note="the row asks for a run long enough for D to overfit: --steps N (and --n) key a table of its own"),
)}


def run_row(row: Row, dry_run: bool, root: Path) -> int:
    if not row.commands:
        print(f"{row.name}: no bench script measures this row; by hand:\n  " + "\n  ".join(row.by_hand))
        return 0 if dry_run else 2
    if row.needs and not dry_run and not (root / row.needs[0]).is_file():
        print(f"{row.name} needs {row.needs[0]}: run `python bench/papers.py {row.needs[1]}` first")
        return 2
    for cache in row.caches if not dry_run else ():  # mode_collapse and stacked_mnist write --json, no folder
        if "*" not in cache:
            (root / cache).parent.mkdir(parents=True, exist_ok=True)
    for command in row.commands:
        print(f"$ {command.line()}", flush=True)
        if dry_run:
            continue
        env = os.environ | {"PYTHONUNBUFFERED": "1"} | ({"OMP_NUM_THREADS": str(command.threads)} if command.threads
                                                       else {})
        done = subprocess.run([sys.executable, command.script, *command.args], cwd=root, env=env, check=False)
        if done.returncode:
            return done.returncode
    return 0


def table(root: Path) -> str:
    lines = [("Each family against its paper (`python bench/papers.py --table --write` writes this table from "
              "the bench caches; \"previous\": no cache here, the figure last measured):"), "",
             "| row | measured | from | target | met | page |", "|---|---|---|---|---|---|"]
    for row in ROWS.values():
        reading = row.read(root)
        if reading is None:
            shown, source, value = f"{row.previous_text} (previous)", "no cache here", row.previous
        else:
            shown, source, value = reading.shown, reading.source, reading.value
        met = ("met" if row.met(value) else "missed") + (" (previous)" if reading is None else "")
        lines.append(f"| {row.title} | {shown} | {source} | {row.target_text} | {met} | "
                     f"[{row.page}]({row.page}) |")
    return "\n".join(lines) + "\n"


def write_table(root: Path, text: str) -> Path:
    """Replace what lies between the two marker lines of docs/quality.md by `text`."""
    page = root / DOCS
    old = page.read_text()
    if old.count(BEGIN) != 1 or old.count(END) != 1 or old.index(BEGIN) > old.index(END):
        raise SystemExit(f"{page} needs one {BEGIN} line and one {END} line after it")
    head, rest = old.split(BEGIN)
    page.write_text(f"{head}{BEGIN}\n{text}{END}{rest.split(END, 1)[1]}")
    return page


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    p.add_argument("row", nargs="?", choices=sorted(ROWS), help="the row to run")
    p.add_argument("--dry-run", action="store_true", help="print the row's commands without running them")
    p.add_argument("--list", action="store_true", help="the rows and their commands")
    p.add_argument("--table", action="store_true", help="the headline table, from the caches alone")
    p.add_argument("--write", action="store_true", help=f"with --table: into {DOCS}, between its markers")
    return p


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    p = build_parser()
    args = p.parse_args(argv)
    if sum(map(bool, (args.row, args.list, args.table))) != 1 or (args.write and not args.table):
        p.error("give one of ROW, --list, --table (--write only with --table)")
    if args.list:
        for row in ROWS.values():
            print(f"{row.name}: {row.title} (target {row.target_text}; {row.page})")
            how = [c.line() for c in row.commands] or [f"by hand: {line}" for line in row.by_hand]
            for line in how + ([f"note: {row.note}"] if row.note else []):
                print(f"  {line}")
        return 0
    if args.table:
        text = table(root)
        print(text, end="")
        if args.write:
            print(f"wrote {write_table(root, text)}")
        return 0
    return run_row(ROWS[args.row], args.dry_run, root)


if __name__ == "__main__":
    sys.exit(main())
