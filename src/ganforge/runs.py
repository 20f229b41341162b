"""Run folders: create one, read one, continue one, and rebuild a trained family from one.

A run folder holds config.yaml (the resolved config), run.json (the data's description: what sampling needs
without the data), metrics.jsonl, samples/, checkpoints/ and the pictures. Training, sampling, evaluation
and the benchmarks all go through this module; none of them imports another's internals.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path

import torch
import yaml

from ganforge import checkpoint as ckpt
from ganforge import pretrained
from ganforge.config import Config, OptimizerConfig, dump_yaml, family_options, from_dict, load_config
from ganforge.data import DATASET_NAMES, Dataset, load_dataset
from ganforge.data.registry import data_layout
from ganforge.data.spec import describe_data, spec_from_description
from ganforge.errors import UserError
from ganforge.families import Family, build_family, family_class
from ganforge.files import write_text_atomic
from ganforge.generator import SHOWCASE, Generator, TakesText
from ganforge.options import as_dict
from ganforge.runtime import auto_precision_before_recording, chosen_precision, resolve_device

TEXT_PRESET = "text2image-fashion"  # the preset a note names for training on a folder's captions

# -- data of a config --------------------------------------------------------------------------------------


def load_data(cfg: Config) -> Dataset:
    """The dataset `cfg` trains on (data.holdout: without the split's last examples)."""
    d = cfg.data
    # a family that cannot use this kind of data says so before the files are read (or faulted for their sizes)
    family = family_class(cfg.model.family)
    family.check_data(cfg, data_layout(d.name, d.split, d.layout, d.domain_b))
    resolution = d.resolution
    if resolution is None:  # the networks fix the size, so an image folder of any size can feed them
        resolution = family.image_size(family_options(cfg))
    dataset = load_dataset(d.name, root=d.root, split=d.split, resolution=resolution, channels=d.channels,
                           n_toy=d.n_toy, seed=cfg.train.seed, on_bad_file=d.on_bad_file,
                           attributes=d.attributes or None, layout=d.layout, domain_b=d.domain_b,
                           captions=reads_captions(cfg), aspect=d.aspect)
    if d.classes:
        dataset = of_classes(dataset, d.classes)
    if d.holdout:
        dataset = holdout(dataset, d.holdout, keep="train")
    if d.subset:
        dataset = balanced_subset(dataset, d.subset, cfg.train.seed)
    return dataset


def of_classes(dataset: Dataset, classes: list[int]) -> Dataset:
    """The examples whose label is one of `classes` (data.classes), in the dataset's order, labels unchanged (a
    conditional network keeps its size)."""
    key = f"config key 'data.classes' ({classes})"
    if dataset.y is None or (dataset.inputs is not None and not dataset.paired):
        what = "unpaired image-to-image data" if dataset.y is not None else f"{dataset.name} has no class labels"
        raise UserError(f"{key} keeps the examples of some classes; {what}: remove it")
    present = set(dataset.y.unique().tolist())
    missing = [k for k in classes if k not in present]
    if missing or len(set(classes)) != len(classes):
        names = dataset.class_names or [str(k) for k in sorted(present)]
        listed = ", ".join(f"{i} ({n})" if n != str(i) else n for i, n in enumerate(names))
        raise UserError(f"{key}: give each class once, by index; {dataset.name}'s classes: {listed}")
    return _rows(dataset, torch.isin(dataset.y, torch.tensor(classes, dtype=dataset.y.dtype)))


def reads_captions(cfg: Config) -> bool:
    """Whether the family trains on an image folder's captions (its Generator TakesText)."""
    return issubclass(family_class(cfg.model.family).GENERATOR, TakesText)


def balanced_subset(dataset: Dataset, n: int, seed: int) -> Dataset:
    """`n` examples drawn with `seed`, as many of each class as n allows (the first n mod K classes get one
    more), in the dataset's order; a random n where there are no labels (small-data studies). Unpaired
    image-to-image data gives n of each domain."""
    keep = _balanced_rows(dataset.name, len(dataset.x), dataset.y, n, seed)
    if dataset.inputs is not None and not dataset.paired:
        return _rows(dataset, keep, _balanced_rows(dataset.name, len(dataset.inputs), dataset.input_labels, n, seed + 1))
    return _rows(dataset, keep)


def _balanced_rows(name: str, size: int, labels: torch.Tensor | None, n: int, seed: int) -> torch.Tensor:
    if not 0 < n <= size:
        raise UserError(f"config key 'data.subset' ({n}) must be between 1 and the {size:,} examples of {name}")
    g = torch.Generator().manual_seed(seed)
    if labels is None:
        return torch.randperm(size, generator=g)[:n].sort().values
    classes = labels.unique()
    parts = []
    for i, k in enumerate(classes.tolist()):
        members = torch.nonzero(labels == k).flatten()
        want = n // len(classes) + (i < n % len(classes))
        if want > len(members):
            raise UserError(f"config key 'data.subset' ({n}) asks {want} examples of class {k}, which has "
                            f"{len(members)}; choose a smaller subset")
        parts.append(members[torch.randperm(len(members), generator=g)[:want]])
    return torch.cat(parts).sort().values


def holdout(dataset: Dataset, n: int, keep: str) -> Dataset:
    """The dataset without its last `n` examples (keep="train") or those examples alone (keep="heldout")."""
    size = len(dataset.x) if dataset.inputs is None else min(len(dataset.x), len(dataset.inputs))
    if n >= size:
        raise UserError(f"config key 'data.holdout' ({n}) must be below the {size:,} examples of {dataset.name}")
    return _rows(dataset, slice(None, -n) if keep == "train" else slice(-n, None))


def _rows(dataset: Dataset, rows, rows_a=None) -> Dataset:
    """The dataset's examples at `rows` (an index or a slice), each with its label, attributes and input;
    unpaired data takes its domain A at `rows_a` (default: `rows`, for a slice of each domain)."""
    own = {k: getattr(dataset, k)[rows] for k in ("x", "y", "attributes", "captions") if getattr(dataset, k) is not None}
    unpaired = dataset.inputs is not None and not dataset.paired
    rows_a = rows_a if unpaired and rows_a is not None else rows
    inputs = {k: getattr(dataset, k)[rows_a] for k in ("inputs", "input_labels") if getattr(dataset, k) is not None}
    return dataclasses.replace(dataset, **own, **inputs)


def heldout_data(cfg: Config) -> Dataset:
    """The examples data.holdout keeps out of training (a validation set)."""
    if not cfg.data.holdout:
        raise UserError("this run holds no examples out of training (data.holdout is 0)")
    full = load_data(dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, holdout=0)))
    return holdout(full, cfg.data.holdout, keep="heldout")


def with_split(cfg: Config, split: str) -> Config:
    """The same config reading another split, whole (a held-out part and a subset belong to the training data
    only; data.classes stays: it says which images the run is about)."""
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, split=split, holdout=0, subset=0))


# -- reading a run folder ----------------------------------------------------------------------------------


def is_run_dir(path: Path) -> bool:
    return (Path(path) / "config.yaml").is_file()


def require_run(path: Path | str) -> Path:
    """`path` if it is a run folder, else the one message every command gives. "pretrained:NAME", a generator
    shipped with ganforge, gives its own writable run folder, runs/pretrained-NAME (ganforge.pretrained)."""
    if pretrained.is_name(path):
        return pretrained.run_folder(str(path))
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such folder; give a run folder made by `ganforge train` (under runs/ by default)")
    if not is_run_dir(path):
        raise UserError(f"{path} is not a ganforge run (no config.yaml); give the folder `ganforge train` made")
    return path


def read_config(run_dir: Path) -> Config:
    return from_dict(yaml.safe_load((require_run(run_dir) / "config.yaml").read_text()) or {})


def read_data_description(run_dir: Path) -> dict:
    path = require_run(run_dir) / "run.json"
    if not path.is_file():
        raise UserError(f"{run_dir} has no run.json; it was not made by `ganforge train`")
    return json.loads(path.read_text())["data"]


def load_family(run_dir: Path, checkpoint: Path | str | None = None,
                device: str = "auto") -> tuple[Family, dict, int]:
    """A trained family rebuilt from its run folder, in eval mode, weights loaded (the averaged sampling
    network when the run kept one): (family, run.json's data description, checkpoint step). A shipped
    generator (`pretrained:NAME` or its run folder) is built from the package's copy of its run files and
    loads its sampling network alone."""
    shipped = pretrained.name_of(run_dir)
    source = run_dir if shipped is None else pretrained.folder(shipped)
    data = read_data_description(source)
    family = build_family(read_config(source), spec_from_description(data))
    step = (load_run_weights(family, run_dir, checkpoint) if shipped is None else
            pretrained.load_weights(family, shipped, checkpoint))
    return family.to(resolve_device(device)).eval(), data, step


def load_run_weights(family: Family, run_dir: Path, checkpoint: Path | str | None) -> int:
    """The run's checkpoint (the latest sound one, or `checkpoint`) into every network of `family`, the sampling
    network from the average where the run kept one; returns the checkpoint's step."""
    path = ckpt.resolve_checkpoint(run_dir, checkpoint)
    model, _, _ = ckpt.load_checkpoint(path, model_only=True)
    weights, extra, averaged = ckpt.weights_parts(model, family.networks, family.SAMPLER)
    try:
        for name, net in family.networks.items():
            net.load_state_dict(weights[name])
        family.load_sampling_tensors(extra)
        if averaged:  # trained with train.ema: sample from the average
            family.networks[family.SAMPLER].load_state_dict(averaged)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise UserError(f"{path}: its weights do not fit the networks its config.yaml builds ({first[:160]}); "
                        "the run was made by another ganforge version or its config was edited") from None
    return ckpt.checkpoint_step(path)


def load_generator(run_dir: Path | str, checkpoint: Path | str | None = None, device: str = "auto") -> Generator:
    """The trained Generator of a run folder: the latest sound checkpoint, or `checkpoint` ("best" or a
    checkpoints/step_* folder), with the averaged weights when the run kept them, in eval mode.
    "pretrained:NAME": a generator shipped with ganforge; loading it writes nothing, and its run_dir is where
    its outputs go (runs/pretrained-NAME, made by the command that writes there)."""
    shipped = pretrained.name_of(run_dir)
    if shipped is None:
        run_dir = require_run(run_dir)
    family, data, step = load_family(run_dir, checkpoint, device)
    if shipped is not None and pretrained.is_name(run_dir):
        run_dir = pretrained.run_path(shipped)
    g = family.generator(data, step, Path(run_dir))
    g.sampler_only = shipped is not None
    return g


# -- creating and continuing ----------------------------------------------------------------------------------


def default_run_dir(cfg_name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{cfg_name}-{stamp}"


def check_new(run_dir: Path) -> None:
    """Refuse a folder that holds anything but hidden files (a run's lock, .DS_Store)."""
    if run_dir.exists() and any(not p.name.startswith(".") for p in run_dir.iterdir()):
        raise UserError(f"{run_dir} already exists and is not empty; use --resume {run_dir} or choose another --out")


def resolved(cfg: Config) -> Config:
    """`cfg` with every option and optimiser group of its family written out (defaults where none were given),
    keys and groups the family does not have refused, and data paths made absolute (so a run resumes from any
    folder)."""
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, name=absolute_data_path(cfg.data.name),
                                                            root=absolute_data_path(cfg.data.root),
                                                            domain_b=absolute_data_path(cfg.data.domain_b)))
    init = Path(cfg.train.init).expanduser()
    if cfg.train.init and init.exists():  # the run a fine-tuned run started from, found again from any folder
        cfg = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, init=str(init.resolve())))
    groups = {g.lower() for g in family_class(cfg.model.family).GROUPS}
    extra = sorted(set(cfg.optim.groups) - groups)
    if extra:
        raise UserError(f"config key 'optim.{extra[0]}': the {cfg.model.family} family has the optimiser groups "
                        f"{', '.join(sorted(groups))}")
    full = {g: cfg.optim.groups.get(g) or OptimizerConfig() for g in sorted(groups, key=_group_order)}
    return dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, groups=full),
                               family=as_dict(family_options(cfg)))


def absolute_data_path(spec: str | None) -> str | None:
    """A data path made absolute ("folder:"/"idx:" prefixes kept); dataset names and None unchanged."""
    if spec is None or spec in DATASET_NAMES:
        return spec
    prefix, _, rest = spec.partition(":") if spec.startswith(("folder:", "idx:")) else ("", "", spec)
    path = Path(rest).expanduser()
    if not path.exists():
        return spec  # loading it will say what is wrong
    return f"{prefix}:{path.resolve()}" if prefix else str(path.resolve())


def with_precision(cfg: Config, precision: str) -> Config:
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, precision=precision))


def settled_precision(cfg: Config, run_dir: Path, resume: bool, device: torch.device, data_kind: str) -> Config:
    """train.precision=auto made concrete, so that config.yaml records the arithmetic a run trains in: a
    resumed run keeps what its config.yaml says (there, auto is a run of before auto was recorded, resumed
    under that time's rule), a new run takes chosen_precision's answer here."""
    if cfg.train.precision != "auto":
        return cfg
    if resume and (Path(run_dir) / "config.yaml").is_file():
        recorded = read_config(run_dir).train.precision
        return with_precision(cfg, auto_precision_before_recording(device) if recorded == "auto" else recorded)
    return with_precision(cfg, chosen_precision(cfg.train.precision, device, data_kind))


def fit_to_folder(cfg: Config) -> tuple[Config, str | None]:
    """For an image folder or archive and no data.resolution, where the family fits its networks to the images'
    size (Family.fit_images: the gan's 28x28 DCGAN) instead of a silent resize. Returns (config, a one-line note
    or None)."""
    from ganforge.data.archives import is_archive, open_tree
    from ganforge.data.fitting import target_size
    from ganforge.data.folder import first_image_size

    d = cfg.data
    path = Path(d.name.removeprefix("folder:")).expanduser()
    if d.resolution is not None or not (path.is_dir() or is_archive(path)):
        return cfg, None
    try:
        with open_tree(path) as tree:
            if path.is_dir() and any(p.name.endswith(("idx3-ubyte", "idx3-ubyte.gz")) for p in path.iterdir()):
                return cfg, None
            first = first_image_size(tree)  # reads the header only
            name = tree.names[first[0]].rsplit("/", 1)[-1] if first else None
    except UserError:  # a damaged archive is reported by the loader
        return cfg, None
    if first is None:  # no image, or none that opens: the loader names them
        return cfg, None
    w, h = first[1]
    fit = family_class(cfg.model.family).fit_images(family_options(cfg), w, h, d.aspect)
    if fit is None:
        return cfg, None
    resolution, changes = fit
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(d, resolution=resolution),
                              family={**cfg.family, **changes})
    what = "".join(f"family.{k}={v} " for k, v in changes.items())
    size_w, size_h = target_size(w, h, resolution, d.aspect)
    side = ", the long side" if size_w != size_h else ""
    note = (f"{path} holds {w}x{h} images ({name}): training {what}at {size_w}x{size_h} "
            f"(data.resolution={resolution}{side}); set both to choose another size")
    return cfg, note


def data_notes(cfg: Config, dataset: Dataset) -> list[str]:
    """One-line notes on what training does to an image folder's files that the user may not expect:
    non-square images cropped or padded (how many pixels, from which sides), labels read from dataset.json over
    subfolders, captions the family does not read."""
    from ganforge.data.archives import open_tree
    from ganforge.data.caption_files import caption_source
    from ganforge.data.fitting import describe_fit

    if dataset.image_sizes is None:  # not an image folder
        return []
    fit = describe_fit(dataset.image_sizes, (dataset.x.shape[-1], dataset.x.shape[-2]), cfg.data.aspect)
    notes = ([fit] if fit else []) + dataset.notes
    folder = Path(dataset.source)
    if not reads_captions(cfg):
        with open_tree(folder) as tree:
            where = caption_source(tree)
        if where:
            notes.append(f"{folder} has captions ({where}); the {cfg.model.family} family ignores them: "
                         f"--config {TEXT_PRESET} --data {folder} trains on them")
    return notes


def _group_order(name: str) -> tuple[int, str]:
    return ("g", "d").index(name) if name in ("g", "d") else 2, name


def write_run_files(run_dir: Path, cfg: Config, dataset: Dataset, init: dict | None = None) -> None:
    """config.yaml and run.json: the data's description and, for a fine-tuned run, the run and checkpoint its
    weights started from (`init`: training/transfer.py)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(run_dir / "config.yaml", dump_yaml(cfg))
    record = {"data": describe_data(dataset), **({"init": init} if init else {})}
    write_text_atomic(run_dir / "run.json", json.dumps(record, indent=1))


def continue_config(run_dir: Path, overrides: list[str]) -> Config:
    """A run's own config plus `overrides`, for --resume. A learning-rate decay planned over the run's
    train.steps cannot stretch to another length without its rate jumping, so that change is refused."""
    pretrained.not_shipped(run_dir, "resuming training")
    run_dir = require_run(run_dir)
    before = read_config(run_dir)
    cfg = load_config(str(run_dir / "config.yaml"), overrides, saved=True)
    if cfg.optim.decay != "none" and cfg.train.steps != before.train.steps and ckpt.list_checkpoints(run_dir):
        raise UserError(f"this run decays its learning rates (optim.decay={cfg.optim.decay}) over "
                        f"{before.train.steps:,} steps; resuming to {cfg.train.steps:,} would make the rate jump. "
                        f"Resume to {before.train.steps:,}, or start a new run")
    if cfg.train.init != before.train.init:
        raise UserError(f"config key 'train.init' says which run this one started from ({before.train.init or 'none'}); "
                        "a resumed run keeps it: drop the override, or start a new run")
    return cfg


def read_metrics(run_dir: Path) -> list[dict]:
    """The records of metrics.jsonl; a last line cut short by a crash is left out (it is rewritten on resume)."""
    path = Path(run_dir) / "metrics.jsonl"
    if not path.exists():
        return []
    records = []
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    for i, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if i < len(lines) - 1:
                raise UserError(f"{path}: line {i + 1} is not JSON; the file was edited or damaged") from None
    return records


def truncate_metrics(run_dir: Path, step: int) -> None:
    """Drop metric lines written after the checkpoint being resumed (they will be written again)."""
    kept = [r for r in read_metrics(run_dir) if r["step"] <= step]
    write_text_atomic(Path(run_dir) / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in kept))


# -- image-to-image data ---------------------------------------------------------------------------------------

def showcase(cfg: Config, dataset: Dataset, n: int = SHOWCASE) -> Dataset:
    """A few examples that the pictures of an image-to-image run translate at every step: the first n of the
    test split for the named tasks (paired, even for an unpaired task), the held-out examples (data.holdout),
    else the first n training examples."""
    from ganforge.data.registry import TRANSLATION_TASKS

    source = dataset
    if cfg.data.name in TRANSLATION_TASKS and cfg.data.split == "train":
        source = load_data(with_split(cfg, "test"))
    elif cfg.data.holdout:
        source = heldout_data(cfg)
    keep = torch.arange(min(n, len(source.x)))
    paired = source.paired and source.inputs is not None
    return dataclasses.replace(
        source, x=source.x[keep], y=None if source.y is None else source.y[keep],
        inputs=None if source.inputs is None else source.inputs[keep],
        input_labels=None if source.input_labels is None else source.input_labels[keep], paired=paired)
