"""Exploring a trained generator's latent space (`ganforge explore`): interpolation, vector arithmetic,
attribute vectors and the truncation sweep, for every family with codes (GAN, conditional GAN, AAE, VAE-GAN,
StyleGAN), and style mixing for style-based generators. Real images take part through their codes: encoded
(AAE, VAE-GAN), or projected (`ganforge project`, or on the fly for --images), StyleGAN's in W or W+.

Everything here goes through the run's Generator (ganforge.explorer.Explorer) and asks it for abilities
(SamplesCodes, Encodes, MixesStyles), never for its family. Every picture says what it shows: captions beside
its rows and above its columns, and one printed line. Seed S means the noise that g.noise draws from a
generator seeded S, so every picture here can be redrawn; sample i of `ganforge sample --seed S --n N
--numbered` is row i of g.noise(N, seeded S).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ganforge import runs, viz
from ganforge.directions import TYPICAL, apply_attribute, attribute_vectors, class_codes, has_classifier
from ganforge.errors import UserError
from ganforge.explorer import Explorer, fractions, output_paths, save_frames_gif, tell
from ganforge.generator import Encodes, MixesStyles, require
from ganforge.latent import lerp, slerp

NEIGHBOURS = 8  # results drawn around an arithmetic result, as in Radford et al.'s Fig. 7
NEIGHBOUR_NOISE = 0.25  # their uniform noise of +-0.25 added to the result's code
DEFAULT_PSIS = (2.0, 1.5, 1.0, 0.75, 0.5, 0.25)  # z-space truncation: the threshold on |z|
W_PSIS = (1.0, 0.9, 0.8, 0.7, 0.5, 0.3)  # style-based generators: the pull towards w_avg


# -- interpolation ---------------------------------------------------------------------------------------


def path_codes(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], steps: int, spherical: bool,
               key: str = "z", blend: bool = False) -> dict[str, torch.Tensor]:
    """Codes along the paths from each row of a to the same row of b: (rows * steps) codes, row-major. The other
    inputs (a condition, StyleGAN's noise maps) are held at a's, or with `blend` move in a straight line too."""
    if steps < 2:
        raise UserError(f"--steps must be at least 2 (the two ends), got {steps}")
    t = torch.linspace(0, 1, steps, device=a[key].device)

    def along(move, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:  # any code's shape, flattened to move
        return move(x.flatten(1), y.flatten(1), t).reshape(len(x) * steps, *x.shape[1:])

    out = {key: along(slerp if spherical else lerp, a[key], b[key])}
    for other in a.keys() - {key}:
        out[other] = along(lerp, a[other], b[other]) if blend else a[other].repeat_interleave(steps, 0)
    return out


def interpolate(run_dir: Path | str, seeds: list[int] | None = None, images: list[str] | None = None,
                spherical: bool = False, steps: int = 10, out: Path | str | None = None, force: bool = False,
                checkpoint: str | None = None, device: str = "auto", codes: list[str] | None = None) -> list[Path]:
    """Rows of images moving from one end to the other: between the samples of consecutive pairs of seeds
    (default 0 1 2 3 ... 15: eight rows), of images (encoded, or projected where the run has no encoder), or of
    projected codes (`codes`: .npz files of `ganforge project`). Writes a PNG of the rows and a GIF that walks
    along them."""
    ex = Explorer.load(run_dir, checkpoint, device)
    if images or codes:
        what = "--images takes pairs of images" if images else "--codes takes pairs of codes"
        if images and (len(images) < 2 or len(images) % 2):
            raise UserError(f"{what} (start end ...), got {len(images)}")
        found, names = (ex.encode_files(images), [Path(p).name for p in images]) if images else ex.load_codes(codes)
        if len(names) < 2 or len(names) % 2:
            raise UserError(f"{what} (start end ...), got {len(names)}")
        pair_ends = ({k: v[0::2] for k, v in found.items()}, {k: v[1::2] for k, v in found.items()})
        unit, stem = ("image", "interpolate_images") if images else ("code", "interpolate_codes")
    else:
        seeds = list(range(16)) if seeds is None else seeds
        if len(seeds) < 2 or len(seeds) % 2:
            raise UserError(f"--seeds takes pairs (start end ...), got {len(seeds)} seeds")
        drawn = ex.seed_codes(seeds)
        pair_ends = ({k: v[0::2] for k, v in drawn.items()}, {k: v[1::2] for k, v in drawn.items()})
        names, unit = [str(s) for s in seeds], "seed"
        stem = f"interpolate_seeds{seeds[0]}-{seeds[-1]}" + ("_slerp" if spherical else "")
    png, gif = output_paths(ex, out, stem, gif=True, force=force)
    images_out = ex.decode(path_codes(*pair_ends, steps, spherical, ex.key, blend=unit != "seed"))
    rows = len(pair_ends[0][ex.key])
    pairs = [f"{a} -> {b}" for a, b in zip(names[0::2], names[1::2])]
    t = [i / (steps - 1) for i in range(steps)]
    how, line = ("slerp", "great circle") if spherical else ("lerp", "straight line")
    viz.save_labelled_grid(images_out, png, nrow=steps, rows=[f"{unit}s {p}" for p in pairs], columns=fractions(t),
                           title=f"{ex.key} along a {line} from each row's first {unit} (t=0) to its second (t=1)")
    frames = [images_out.view(rows, steps, *images_out.shape[1:])[:, i] for i in range(steps)]
    save_frames_gif(frames, gif, [f"{how}, t = {x:.2f}" for x in t], pairs)
    tell(png, f"{rows} rows, each from its first {unit} (left, t=0) to its second (right, t=1) in {steps} {how} "
              f"steps: {', '.join(pairs)}; {gif.name} walks them")
    return [png, gif]


# -- vector arithmetic ---------------------------------------------------------------------------------------


def operand_codes(ex: Explorer, spec: str, seed: int, n: int, k: int,
                  given: tuple[torch.Tensor, list[str]] | None = None) -> tuple[torch.Tensor, str]:
    """The codes an operand averages: "3,7,12" (sample indices of `ganforge sample --seed S --n N --numbered`, or
    with `given` codes and their names, indices into them) or "class:NAME" (the k samples the domain classifier
    reads most surely as NAME, from CLASS_POOL drawn)."""
    if spec.startswith("class:"):
        name = spec.split(":", 1)[1]
        return class_codes(ex, name, seed)[:k], name
    try:
        idx = [int(s) for s in spec.split(",") if s.strip()]
    except ValueError:
        raise UserError(f"operand '{spec}': give sample indices like 3,7,12 or class:NAME") from None
    count = n if given is None else len(given[1])
    if not idx or min(idx) < 0 or max(idx) >= count:
        where = f"the numbered grid of --n {n}" if given is None else f"the {count} codes given"
        raise UserError(f"operand '{spec}': indices must lie in 0..{count - 1} ({where})")
    if given is not None:
        return given[0][idx], ", ".join(given[1][i] for i in idx)
    return ex.codes(seed, n)[ex.key][idx], spec


def arithmetic(run_dir: Path | str, a: str, b: str, c: str, seed: int = 0, n: int = 64, k: int = 3,
               out: Path | str | None = None, force: bool = False, checkpoint: str | None = None,
               device: str = "auto", codes: list[str] | None = None) -> list[Path]:
    """mean(a) - mean(b) + mean(c) in code space (Radford et al. 2016, Fig. 7): a row per operand (its samples,
    then the sample of its mean code) = the result amid NEIGHBOURS draws around it (3 x 3, as tall as the
    operands); a GIF moves from c to the result (c + t (a - b)). With `codes` (.npz files of `ganforge
    project`), an operand's indices pick projected codes (0: the first given)."""
    ex = Explorer.load(run_dir, checkpoint, device)
    if ex.g.conditional:
        raise UserError("vector arithmetic works on the codes of an unconditional run; this run is conditional")
    png, gif = output_paths(ex, out, "arithmetic_codes" if codes else f"arithmetic_seed{seed}", gif=True, force=force)
    given = None
    if codes:
        found, names = ex.load_codes(codes)
        given = (found[ex.key], names)
    operands = [operand_codes(ex, spec, seed, n, k, given) for spec in (a, b, c)]
    key = ex.key
    means = [z.mean(0, keepdim=True) for z, _ in operands]
    noise = torch.rand(NEIGHBOURS, *means[0].shape[1:], generator=torch.Generator().manual_seed(seed))
    reach = NEIGHBOUR_NOISE * (ex.g.code_spread(ex.space) if ex.space != "z" else 1.0)  # w: in its own scale
    around = (2 * noise.to(means[0].device) - 1) * reach
    offsets = torch.cat([around[:4], torch.zeros_like(means[0]), around[4:]])  # the result in the middle
    width = max(len(z) for z, _ in operands) + 1
    rows = []
    for z, _ in operands:
        row = ex.decode({key: torch.cat([z, z.mean(0, keepdim=True)])})
        gap = torch.full((width - len(row), *row.shape[1:]), -1.0)  # operands of fewer samples than others
        rows.append(torch.cat([row[:-1], gap, row[-1:]]))  # the mean's sample in the last column
    operand_grid = viz.Grid.of(torch.cat(rows), nrow=width)
    names = [f"{sign}{letter}: {name}" for sign, letter, (_, name) in zip(("", "- ", "+ "), "abc", operands)]
    left = viz.labelled(operand_grid, rows=names, columns=[""] * (width - 1) + ["mean"],
                        title="samples, then their mean code's")

    def result(t: float) -> torch.Tensor:
        return ex.decode({key: means[2] + t * (means[0] - means[1]) + offsets})

    right = viz.labelled(viz.Grid.of(result(1.0), nrow=3),
                         title=f"a - b + c (middle), {NEIGHBOURS} codes within ±{reach:.2g} of it")
    viz.save_picture(viz.beside([left, right], ["="], operand_grid.image.height), png)
    t = [i / 9 for i in range(10)]
    save_frames_gif([result(x) for x in t], gif, [f"c + {x:.2f} (a - b)" for x in t], duration_ms=150, nrow=3)
    tell(png, f"rows a ({a}), b ({b}), c ({c}): their samples, then the sample of their mean code; right of '=': "
              f"a - b + c (middle) and {NEIGHBOURS} codes within ±{reach:.2g} of it; {gif.name} moves "
              "from c (t=0) to a - b + c (t=1)")
    return [png, gif]


# -- attribute vectors -------------------------------------------------------------------------------------------


def attribute(run_dir: Path | str, attr: str, images: list[str] | None = None, seeds: list[int] | None = None,
              strengths: list[float] | None = None, out: Path | str | None = None, force: bool = False,
              checkpoint: str | None = None, device: str = "auto", codes: list[str] | None = None) -> list[Path]:
    """Samples (one per seed, default 0..7), images (encoded, or projected where the run has no encoder) or
    projected codes (`codes`: .npz files of `ganforge project`), one row each, moved along the attribute vector
    at each strength (columns); a GIF sweeps the strength."""
    ex = Explorer.load(run_dir, checkpoint, device)
    if ex.g.conditional:
        raise UserError("attribute vectors act on the codes of an unconditional run; this run is conditional "
                        "(its --class and --attr set the attribute directly; `ganforge project --class K` "
                        "finds an image's code as class K)")
    strengths = [-1.0, -0.5, 0.0, 0.5, 1.0, 1.5, 2.0] if strengths is None else strengths
    safe = "".join(ch if ch.isalnum() else "-" for ch in attr)
    png, gif = output_paths(ex, out, f"attribute_{safe}", gif=True, force=force)
    if images:
        found, names = ex.encode_files(images), [Path(p).name for p in images]
    elif codes:
        found, names = ex.load_codes(codes)
    else:
        found = ex.seed_codes(list(range(8)) if seeds is None else seeds)
        names = [f"seed {s}" for s in (range(8) if seeds is None else seeds)]
    z = found[ex.key]
    vectors = attribute_vectors(ex, attr, found)
    moved = {k: v.repeat_interleave(len(strengths), 0) for k, v in found.items()}  # the other inputs kept
    pictures = ex.decode({**moved, ex.key: apply_attribute(z, vectors, strengths)})
    steps = [f"{x:+g}" if x else "0" for x in strengths]
    vector = (f"from the row's own class to {attr}: the mean code of each" + (
        (f", of the {TYPICAL} encoded training images read most surely as it" if has_classifier(ex) else
         " (encoded training images)") if isinstance(ex.g, Encodes) else
        f", of the {TYPICAL} samples the classifier reads most surely as it"))
    viz.save_labelled_grid(pictures, png, nrow=len(strengths), rows=names, columns=steps,
                           title=f"moved by a multiple (column) of the {attr!r} vector, {vector}")
    frames = [pictures.view(len(z), len(strengths), *pictures.shape[1:])[:, i] for i in range(len(strengths))]
    save_frames_gif(frames, gif, [f"{attr} vector x {x:g}" for x in strengths], names, duration_ms=250)
    tell(png, f"{len(z)} rows ({', '.join(names)}), each moved along the {attr!r} vector by {', '.join(steps)} "
              f"(columns; 0: as drawn); {gif.name} sweeps the multiple")
    return [png, gif]


# -- style mixing ----------------------------------------------------------------------------------------------


def style_mix(run_dir: Path | str, rows: list[int] | None = None, columns: list[int] | None = None,
              out: Path | str | None = None, force: bool = False, checkpoint: str | None = None,
              device: str = "auto") -> list[Path]:
    """Karras et al.'s style-mixing figure: the top row holds the column sources, the left column the row
    sources, and each cell is its row's sample with one band of styles (coarse, middle, fine: one block of
    rows each) taken from its column's sample."""
    ex = Explorer.load(run_dir, checkpoint, device)
    g = ex.g
    require(g, MixesStyles, "style mixing swaps the styles of a style-based generator",
            "train one with --config stylegan-fashion")
    rows = [0, 1, 2] if rows is None else rows
    columns = [3, 4, 5, 6, 7] if columns is None else columns
    png, _ = output_paths(ex, out, "mix", gif=False, force=force)
    row_ws, col_ws = g.styles(ex.seed_codes(rows)), g.styles(ex.seed_codes(columns))
    cells = [torch.full_like(g.synthesize(row_ws[:1]), -1.0), g.synthesize(col_ws)]
    for start, stop in g.style_ranges().values():
        for i in range(len(rows)):
            mixed = row_ws[i : i + 1].repeat(len(columns), 1, 1)
            mixed[:, start:stop] = col_ws[:, start:stop]
            cells += [g.synthesize(row_ws[i : i + 1]), g.synthesize(mixed)]
    bands = list(g.style_ranges())
    viz.save_labelled_grid(torch.cat(cells).cpu(), png, nrow=len(columns) + 1,
                           rows=["column sources", *(f"seed {r}, {band}" for band in bands for r in rows)],
                           columns=["row sources", *(f"seed {s}" for s in columns)],
                           title="each cell: its row's seed with one band of styles from its column's seed")
    tell(png, f"top row the column sources (seeds {', '.join(map(str, columns))}), left column the row sources "
              f"(seeds {', '.join(map(str, rows))}); each other cell its row's sample with the {', '.join(bands)} "
              "styles (a block of rows each) of its column's")
    return [png]


# -- truncation -----------------------------------------------------------------------------------------------


def truncation_sweep(run_dir: Path | str, psis: list[float] | None = None, n: int = 2000, seed: int = 0,
                     out: Path | str | None = None, force: bool = False, checkpoint: str | None = None,
                     device: str = "auto", progress: bool = True) -> dict:
    """Precision, recall and the Frechet distance to the test split's first n images (domain-classifier
    features where there is one, else Inception) for samples truncated at each psi, beside none; writes
    a plot, a strip of the same seeds at each psi, and the table as JSON."""
    from ganforge.metrics.classifier import ClassifierExtractor
    from ganforge.metrics.conditional import class_agreement
    from ganforge.metrics.features import build_extractor, cached_features
    from ganforge.metrics.scoring import compare

    ex = Explorer.load(run_dir, checkpoint, device)
    kind = ex.g.latent
    if kind not in ("gaussian", "w"):
        raise UserError(f"truncation acts on Gaussian codes; the {ex.g.name} run's codes follow another prior: "
                        "explore it with interpolate or arithmetic")
    psis = list(DEFAULT_PSIS if kind == "gaussian" else W_PSIS) if psis is None else sorted(psis, reverse=True)
    png, _ = output_paths(ex, out, "truncation", gif=False, force=force)
    real = runs.load_data(runs.with_split(runs.read_config(ex.run_dir), "test"))
    extractor = build_extractor("auto", real.name, device=str(ex.device))
    real_features = cached_features(real.x[:n], extractor)
    # class-conditional runs (every class in turn) with a domain classifier: does truncation sharpen the class?
    by_class = ex.g.conditional and not ex.g.attributes
    judge = extractor if by_class and isinstance(extractor, ClassifierExtractor) else None
    rows = []
    strip = []
    for psi in [None, *psis]:
        inputs, _ = ex.g.inputs(n, torch.Generator().manual_seed(seed), truncation=psi)
        fake = viz.to_uint8(ex.decode({k: v.to(ex.device) for k, v in inputs.items()}))
        values = compare(real_features, cached_features(fake, extractor, cache=False), ("fid", "pr"))
        row = {"psi": psi, "fd": values["fid"], "precision": values["precision"], "recall": values["recall"]}
        if judge is not None:
            read = judge.logits(fake).argmax(1).cpu()
            labels, classes = inputs["c"].argmax(1).cpu(), inputs["c"].shape[1]
            row["class_accuracy"] = class_agreement(read, labels, classes)["class_accuracy"]
        rows.append(row)
        strip.append(fake[:10])
        if progress:
            print(f"psi {psi if psi is not None else 'none':>5}: FD {values['fid']:.3f}, precision "
                  f"{values['precision']:.3f}, recall {values['recall']:.3f}"
                  + (f", class accuracy {row['class_accuracy']:.3f}" if judge is not None else ""))
    features = f"{extractor.name} features"
    result = {"rows": rows, "protocol": {"n": n, "seed": seed, "reference": f"{real.name} test split, first {n}",
                                         "features": features, "pr_k": 3, "checkpoint_step": ex.step,
                                         "truncation": ex.g.truncation_note()}}
    viz.plot_truncation(rows, png, features)
    grid = png.with_name(png.stem + "_samples.png")
    shown = len(strip[0])
    levels = ["no truncation", *(f"psi {p:g}" for p in psis)]
    viz.save_labelled_grid(torch.cat(strip), grid, nrow=shown, rows=levels,
                           title=f"the same {shown} samples (seed {seed}) at each truncation")
    table = png.with_suffix(".json")
    from ganforge.files import write_text_atomic

    write_text_atomic(table, json.dumps(result, indent=2) + "\n")
    tell(grid, f"the same {shown} samples (seed {seed}) with no truncation (top row), then at psi "
               f"{', '.join(f'{p:g}' for p in psis)}, a row each; {png.name}: precision, recall and FD against psi")
    return {**result, "written": [str(png), str(grid), str(table)]}
