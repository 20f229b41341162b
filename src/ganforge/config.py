"""Typed, validated run configuration.

A config is a tree of dataclasses. It is built from a preset or YAML file, then `--set key=value`
overrides; every key and type is checked, and a mistyped key names the closest valid one.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import inspect
import io
import json
import shutil
import textwrap
import tokenize
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ganforge.errors import UserError

PRESET_DIR = Path(__file__).parent / "presets"


def choice(default: str, *choices: str) -> Any:
    """A string field restricted to `choices`."""
    return field(default=default, metadata={"choices": choices})


@dataclass
class DataConfig:
    name: str = "fashion-mnist-10k"  # a dataset name or a path (IDX folder, image folder)
    root: str | None = None  # folder holding a named dataset's files
    split: str = choice("train", "train", "test")  # the split of a named dataset to train on
    # images are resized and centre-cropped to this size; unset, an image folder trained with model.arch=dcgan28
    # gets the DCGAN for its images' size (the largest power of two that fits, up to 64)
    resolution: int | None = None
    channels: int | None = None  # 1 or 3; default: what the data has
    n_toy: int = 100_000  # points drawn from a toy mixture
    # image folder: an unreadable file stops the run, or is skipped (and listed in the run's skipped_files.txt)
    on_bad_file: str = choice("error", "error", "skip")
    attributes: list[str] = field(default_factory=list)  # image folder with an attribute file: names kept (all if empty)
    holdout: int = 0  # the split's last this many examples are kept out of training (a validation set)
    subset: int = 0  # > 0: train on a seeded subset of this many examples, balanced over classes where labelled
    # image-to-image folders: auto finds A/ + B/ (paired by file name) or trainA/ + trainB/ (unpaired);
    # side_by_side reads each image as A on its left half and B on its right
    layout: str = choice("auto", "auto", "side_by_side")
    domain_b: str | None = None  # unpaired image-to-image: a folder of domain B's images (data.name: domain A's)


@dataclass
class ModelConfig:
    family: str = "gan"  # the training algorithm: see ganforge.families
    # the GAN's networks: mlp (Goodfellow 2014), dense (Keras-style SELU), dcgan (Radford 2015, power-of-two
    # resolutions), dcgan28 (its 28x28 variant for (Fashion-)MNIST)
    arch: str = choice("dcgan28", "mlp", "dense", "dcgan", "dcgan28")
    z_dim: int = 100  # size of the noise vector z that G turns into a sample
    g_width: int = 64  # base channel (conv) or unit (dense) count of G
    d_width: int = 64  # base channel (conv) or unit (dense) count of D
    g_hidden: list[int] = field(default_factory=lambda: [256, 512])  # mlp: hidden layer sizes of G
    d_hidden: list[int] = field(default_factory=lambda: [512, 256])  # mlp: hidden layer sizes of D
    d_activation: str = choice("leaky_relu", "leaky_relu", "maxout")  # mlp: D's hidden units
    d_dropout: float = 0.0  # mlp: dropout after D's hidden layers
    d_input_dropout: float = 0.0  # mlp: dropout on D's input
    g_init: float = 0.0  # mlp: > 0 draws G's weights from U(-g_init, g_init) (pylearn2's irange); 0: PyTorch's default
    d_init: float = 0.0  # mlp: the same for D
    d_max_norm: float = 0.0  # > 0: cap the norm of each D unit's incoming weights after every D step (Goodfellow 2014)
    g_output: str = choice("auto", "auto", "tanh", "linear")  # auto: tanh for images, linear for toy data
    spectral_norm: str = choice("off", "off", "d", "g", "both")  # spectral normalisation (Miyato et al. 2018)
    minibatch_std: int = 0  # > 0: D's head also sees the minibatch std over groups of this size (Karras 2018)
    minibatch_disc: int = 0  # > 0: minibatch discrimination with this many kernels (Salimans et al. 2016)
    minibatch_disc_dim: int = 5  # minibatch discrimination: dimension of each kernel's projection
    pack: int = 1  # PacGAN: D judges this many samples jointly (Lin et al. 2018); 1: off
    # class or attribute conditioning: cgan (Mirza 2014: labels joined to G's z and D's input), acgan (Odena
    # 2017: D also classifies), projection (Miyato 2018: D's projection of the label, class-conditional BatchNorm in G)
    # biggan (Brock et al. 2019): projection D; G's BatchNorm gains and biases from a shared class embedding
    # joined to a chunk of z per layer (hierarchical z), the first chunk feeding G's input
    condition: str = choice("none", "none", "cgan", "acgan", "projection", "biggan")
    shared_dim: int = 32  # biggan: size of the shared class embedding
    # projection and biggan: how D reads the label; auto is the projection, acgan a classifier head instead
    # (ACGAN's class loss), projection+acgan both
    d_condition: str = choice("auto", "auto", "projection", "acgan", "projection+acgan")
    attention: int = 0  # > 0: a self-attention block (SAGAN, BigGAN) in G and D at this resolution (dcgan, dcgan28)


@dataclass
class LossConfig:
    objective: str = choice("gan", "gan", "wgan", "hinge", "lsgan")  # D's and G's objectives
    g: str = choice("nonsaturating", "nonsaturating", "minimax")  # objective gan: the generator's loss
    label_smoothing: float = 0.0  # objective gan: one-sided, D's target for real data is 1 - this
    clip: float = 0.0  # > 0: clip D's weights to [-clip, clip] after each D step (WGAN: 0.01)
    gp: float = 0.0  # WGAN-GP weight lambda (10 in the paper): (|grad D| - 1)^2 on real-fake interpolates
    r1: float = 0.0  # R1 weight gamma: |grad D|^2 / 2 on real data (Mescheder et al. 2018)
    r1_every: int = 1  # lazy R1: every this many D steps, weight multiplied by it (StyleGAN2 uses 16)
    dragan: float = 0.0  # DRAGAN weight lambda (10 in the paper): (|grad D| - 1)^2 near real data
    ortho: float = 0.0  # BigGAN's orthogonal regularisation of G's weights (1e-4 in the paper): makes G amenable to truncation
    # top-k G updates (Sinha et al. 2020): G's loss uses only the fraction of its fakes that D rates most real;
    # the fraction starts at 1 and is multiplied by g_top_k_decay each epoch down to g_top_k (1: off)
    g_top_k: float = 1.0
    g_top_k_decay: float = 0.99  # top-k: the fraction's factor per epoch (see g_top_k)
    class_weight: float = 1.0  # model.condition acgan: weight of the class loss for D and G
    class_fake_weight: float = 1.0  # acgan: weight of D's class loss on fakes (Odena 2017: 1; 0: D learns classes from real data only)


@dataclass
class OptimizerConfig:
    name: str = choice("adam", "adam", "sgd", "rmsprop")  # the optimiser
    lr: float = 2e-4  # learning rate
    betas: list[float] = field(default_factory=lambda: [0.5, 0.999])  # adam: beta1 (momentum) and beta2
    momentum: float = 0.0  # sgd, rmsprop: momentum


@dataclass
class OptimConfig:
    """Schedules shared by every optimiser, and one OptimizerConfig per optimiser group of the family.

    A group's settings are the key `optim.<group>` (the group's name in lower case: optim.g and optim.d for the
    GAN; separate rates for G and D are TTUR); a group left out gets OptimizerConfig's defaults.
    """

    decay: str = choice("none", "none", "linear")  # linear: every rate falls linearly to 0 after decay_start
    decay_start: float = 0.5  # fraction of train.steps after which the decay begins (pix2pix, CycleGAN)
    groups: dict[str, OptimizerConfig] = field(default_factory=dict)

    def group(self, name: str) -> OptimizerConfig:
        """The settings of optimiser group `name` (any case): as configured, else the defaults."""
        return self.groups.get(name.lower()) or OptimizerConfig()

    def __getattr__(self, name: str) -> OptimizerConfig:  # cfg.optim.g, cfg.optim.d, ...
        if name.startswith("_") or name in ("decay", "decay_start", "groups"):
            raise AttributeError(name)
        return self.group(name)


@dataclass
class TrainConfig:
    steps: int = 3500  # generator steps
    batch_size: int = 64  # examples per step (the global batch, split over the processes of a torchrun)
    d_steps: int = 1  # k: discriminator steps per generator step
    reuse_fake: bool = True  # with k = 1, the G step reuses the D step's G(z) (one G forward saved)
    seed: int = 0  # seeds the weights, the noise and the data order
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = choice("auto", "auto", "fp32", "bf16", "fp16")  # auto: bf16 autocast on CUDA, fp32 on CPU
    compile: str = choice("off", "off", "on", "graphs")  # torch.compile the networks (graphs: with CUDA graphs)
    sync_bn: bool = False  # multi-GPU (torchrun): BatchNorm statistics over the global batch
    ema: float = 0.0  # > 0: samples and evaluation use an exponential moving average of G's weights, this beta
    replay: int = 0  # > 0: D also trains on old fakes from a buffer of this many samples (experience replay)
    replay_mix: float = 0.5  # fraction of each fake batch D sees that comes from the replay buffer
    on_divergence: str = choice("rollback", "rollback", "stop", "ignore")  # NaN/Inf in losses or weights
    max_rollbacks: int = 3  # rollbacks to the last checkpoint before the run stops with an error
    rollback_lr: float = 0.5  # learning rates are multiplied by this at each rollback (1: unchanged)
    # augment what D sees, real and fake, so it cannot memorise small data: diffaugment (Zhao et al. 2020: every
    # image, differentiably) or ada (Karras et al. 2020: each op with a probability p steered by D's confidence)
    augment: str = choice("none", "none", "diffaugment", "ada")
    augment_policy: str = "color,translation,cutout"  # diffaugment: its ops, comma-separated
    ada_target: float = 0.6  # ada: p rises while E[sign(D(x_real))] is above this, falls below it
    ada_kimg: float = 100.0  # ada: thousands of real images over which p can move by 1 (the paper: 500)
    ada_interval: int = 4  # ada: D steps between updates of p


@dataclass
class LogConfig:
    every: int = 50  # steps between metric lines (the only host-device syncs)
    sample_every: int = 250  # steps between fixed-noise sample grids
    checkpoint_every: int = 1000  # steps between checkpoints
    keep_checkpoints: int = 2  # the latest this many checkpoints are kept
    n_samples: int = 64  # images in a sample grid
    n_points: int = 2500  # toy data: points drawn per sample plot
    tensorboard: bool = True  # also write the metrics as TensorBoard events (run folder/tensorboard)


@dataclass
class EvalConfig:
    every: int = 0  # steps between evaluations during training (0: off); the best checkpoint is kept
    # auto: fid for images (named fd_classifier in a domain classifier's features), reverse_kl for toy data
    metric: str = choice("auto", "auto", "fid", "fd", "kid", "kd", "precision", "recall", "density", "coverage",
                         "is", "reverse_kl", "modes", "high_quality")
    n: int = 2000  # generated samples (and real images) per evaluation
    extractor: str = choice("auto", "auto", "classifier", "inception")  # auto: the domain classifier if any
    inception: str | None = None  # the FID Inception file, for extractor inception
    ref: str = choice("test", "test", "train")  # real split compared with


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    log: LogConfig = field(default_factory=LogConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    # the family's own options (model.family's Options dataclass checks them when the family is built)
    family: dict[str, Any] = field(default_factory=dict)
    description: str = ""  # one line saying what the config is for (`ganforge presets` lists it)


# ---------------------------------------------------------------------------------------------
# Building a Config from plain data, with checks


OPEN_SECTIONS = ("optim", "family")  # sections whose keys a family names: optimiser groups, the family's options


def _all_keys(cls: type, prefix: str = "") -> list[str]:
    keys = []
    for name, hint in typing.get_type_hints(cls).items():
        if cls is OptimConfig and name == "groups":  # the GAN's groups stand for any family's
            keys += [f"{prefix}{g}.{k}" for g in ("g", "d") for k in _all_keys(OptimizerConfig)] + [prefix + "g"]
            continue
        keys.append(prefix + name)
        if dataclasses.is_dataclass(hint):
            keys += _all_keys(hint, prefix + name + ".")
    return keys


def _unknown_key(key: str, section_keys: list[str] = ()) -> UserError:
    """An unknown key, with the closest valid one: first among its own section's keys, then any key."""
    close = (difflib.get_close_matches(key, list(section_keys), n=1, cutoff=0.5)
             or difflib.get_close_matches(key, _all_keys(Config), n=1, cutoff=0.5))
    hint = f"; did you mean '{close[0]}'?" if close else "; run `ganforge presets --keys` to list valid keys"
    return UserError(f"unknown config key {key!r}{hint}")


def _convert(value: Any, hint: Any, key: str) -> Any:
    """Check `value` against the type annotation `hint`, converting int -> float where harmless."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(value, inner, key)
    if origin is list:
        (inner,) = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            raise UserError(f"config key '{key}' must be a list, got {value!r}")
        return [_convert(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "2e-4" as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif hint is str:
        if isinstance(value, str):
            return value
    else:
        raise TypeError(f"unsupported annotation {hint} for {key}")
    return _type_error(key, hint, value)


def _type_error(key: str, hint: Any, value: Any) -> Any:
    name = getattr(hint, "__name__", str(hint))
    raise UserError(f"config key '{key}' must be {name}, got {value!r}")


def _build(cls: type, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise UserError(f"config section '{prefix.rstrip('.') or '<top>'}' must be a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    if cls is OptimConfig:  # every mapping beside the schedule keys is an optimiser group
        data = dict(data)
        kwargs["groups"] = {str(name).lower(): _build(OptimizerConfig, data.pop(name), f"{prefix}{name}.")
                            for name in list(data) if name not in fields and isinstance(data[name], dict)}
    for name, value in data.items():
        key = prefix + str(name)
        if name not in fields or (cls is OptimConfig and name == "groups"):
            raise _unknown_key(key, [prefix + f for f in fields])
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            kwargs[name] = _build(hint, value, key + ".")
            continue
        if typing.get_origin(hint) is dict:  # an open section, checked by its owner (the family)
            if not isinstance(value, dict):
                raise UserError(f"config section '{key}' must be a mapping, got {value!r}")
            kwargs[name] = dict(value)
            continue
        choices = fields[name].metadata.get("choices")
        if isinstance(value, bool) and choices and ("on" if value else "off") in choices:
            value = "on" if value else "off"  # YAML 1.1 reads a bare on/off as a boolean
        value = _convert(value, hint, key)
        if choices and value not in choices:
            raise UserError(f"config key '{key}' must be one of {', '.join(choices)}; got {value!r}")
        kwargs[name] = value
    return cls(**kwargs)


def to_dict(cfg: Config) -> dict[str, Any]:
    """The config as plain data, optimiser groups written as keys of optim (optim.g, optim.d, ...)."""
    tree = dataclasses.asdict(cfg)
    tree["optim"].update(tree["optim"].pop("groups"))
    return tree


def build_section(cls: type, data: dict, prefix: str) -> Any:
    """A dataclass `cls` from the mapping `data`, every key and type checked; `prefix` names the section in
    messages ("family."). For options that live beside their owner, such as a family's."""
    return _build(cls, data, prefix)


def _merge(base: dict, override: dict) -> dict:
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def _set_path(tree: dict, key: str, value: Any) -> None:
    parts = key.split(".")
    node = tree
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None and i == 1 and parts[0] == "optim":  # a new optimiser group: optim.<group>.<key>
            child = node[part] = {}
        if not isinstance(child, dict):
            raise _unknown_key(key)
        node = child
    if parts[-1] not in node and not (parts[0] in OPEN_SECTIONS and len(parts) == (2 if parts[0] == "family" else 3)):
        raise _unknown_key(key)
    node[parts[-1]] = value


def parse_set(item: str) -> tuple[str, Any]:
    """Parse one `--set key=value`; the value is read as YAML (numbers, lists, true/false, null)."""
    if "=" not in item:
        raise UserError(f"--set expects key=value, got {item!r}")
    key, raw = item.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.strip(), value


def preset_names() -> dict[str, str]:
    """Named presets and their one-line descriptions."""
    out = {}
    for path in sorted(PRESET_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        out[path.stem] = str(data.get("description", ""))
    return out


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as e:
        raise UserError(f"cannot read config file {path}: {e.strerror}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise UserError(f"config file {path} is not valid YAML{where}; fix the syntax") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UserError(f"config file {path} must hold a mapping of sections (data:, model:, train:, ...)")
    return data


def load_config(source: str | None = None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Build a Config from a preset name or YAML path (None: the default preset), then `key=value` overrides."""
    if source is None:
        source = "default"
    path = Path(source)
    # a folder that happens to share a preset's name (a run called toy-ring, say) does not hide the preset
    if path.suffix in (".yaml", ".yml") or (path.exists() and not (PRESET_DIR / f"{source}.yaml").is_file()):
        if not path.is_file():
            raise UserError(f"config file {path} not found; give a preset name (ganforge presets) or a YAML path")
        data = _read_yaml(path)
    else:
        preset = PRESET_DIR / f"{source}.yaml"
        if not preset.is_file():
            names = list(preset_names())
            close = difflib.get_close_matches(source, names, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise UserError(f"unknown preset '{source}'; {hint}presets: {', '.join(names)}")
        data = _read_yaml(preset)
    tree = _merge(to_dict(Config()), data)
    for item in overrides:
        key, value = parse_set(item)
        _set_path(tree, key, value)
    _check_top(tree)
    cfg = _build(Config, tree, "")
    validate(cfg)
    return cfg


def _check_top(tree: dict) -> None:
    for key in tree:
        if key not in {f.name for f in dataclasses.fields(Config)}:
            raise _unknown_key(key)


def from_dict(data: dict) -> Config:
    """Rebuild a Config from a resolved dict (as saved in a run's config.yaml)."""
    cfg = _build(Config, _merge(to_dict(Config()), data), "")
    validate(cfg)
    return cfg


def validate(cfg: Config) -> None:
    """Checks that span several keys or need a range."""
    positive = {
        "train.steps": cfg.train.steps,
        "train.batch_size": cfg.train.batch_size,
        "train.d_steps": cfg.train.d_steps,
        "model.z_dim": cfg.model.z_dim,
        "model.g_width": cfg.model.g_width,
        "model.d_width": cfg.model.d_width,
        "log.every": cfg.log.every,
        "log.sample_every": cfg.log.sample_every,
        "log.checkpoint_every": cfg.log.checkpoint_every,
        "log.keep_checkpoints": cfg.log.keep_checkpoints,
        "log.n_samples": cfg.log.n_samples,
        "log.n_points": cfg.log.n_points,
        "data.n_toy": cfg.data.n_toy,
    }
    for key, value in positive.items():
        if value < 1:
            raise UserError(f"config key '{key}' must be at least 1, got {value}")
    for name, opt in cfg.optim.groups.items():
        if opt.lr <= 0:
            raise UserError(f"config key 'optim.{name}.lr' must be positive, got {opt.lr}")
        if len(opt.betas) != 2 or not all(0 <= b < 1 for b in opt.betas):
            raise UserError(f"config key 'optim.{name}.betas' must be two numbers in [0, 1), got {opt.betas}")
    for key in ("label_smoothing", "clip", "gp", "r1", "dragan"):
        if getattr(cfg.loss, key) < 0:
            raise UserError(f"config key 'loss.{key}' must be >= 0 (0 turns it off), got {getattr(cfg.loss, key)}")
    for key in ("g_top_k", "g_top_k_decay"):
        if not 0 < getattr(cfg.loss, key) <= 1:
            raise UserError(f"config key 'loss.{key}' must be in (0, 1] (g_top_k 1 turns top-k off), "
                            f"got {getattr(cfg.loss, key)}")
    if cfg.loss.label_smoothing >= 0.5:
        raise UserError(f"config key 'loss.label_smoothing' must be below 0.5, got {cfg.loss.label_smoothing}")
    if cfg.loss.label_smoothing and cfg.loss.objective != "gan":
        raise UserError("config key 'loss.label_smoothing' applies to loss.objective=gan only")
    for key in ("r1_every", "pack", "minibatch_disc_dim"):
        section = "loss" if key == "r1_every" else "model"
        if getattr(getattr(cfg, section), key) < 1:
            raise UserError(f"config key '{section}.{key}' must be at least 1, got {getattr(getattr(cfg, section), key)}")
    for key in ("minibatch_std", "minibatch_disc"):
        if getattr(cfg.model, key) < 0:
            raise UserError(f"config key 'model.{key}' must be >= 0 (0 turns it off), got {getattr(cfg.model, key)}")
    m = cfg.model.pack
    if cfg.train.batch_size % m:
        raise UserError(f"config key 'train.batch_size' ({cfg.train.batch_size}) must be a multiple of "
                        f"model.pack ({m})")
    g = cfg.model.minibatch_std
    if g and (cfg.train.batch_size // m) % g:
        raise UserError(f"config key 'model.minibatch_std' ({g}) must divide the batch D sees "
                        f"(train.batch_size / model.pack = {cfg.train.batch_size // m})")
    if not 0 <= cfg.train.ema < 1:
        raise UserError(f"config key 'train.ema' must be in [0, 1) (0 turns it off), got {cfg.train.ema}")
    if cfg.train.replay < 0 or not 0 <= cfg.train.replay_mix <= 1:
        raise UserError("config keys 'train.replay' (>= 0) and 'train.replay_mix' (0 to 1) are out of range: "
                        f"{cfg.train.replay}, {cfg.train.replay_mix}")
    if cfg.train.max_rollbacks < 0 or not 0 < cfg.train.rollback_lr <= 1:
        raise UserError("config keys 'train.max_rollbacks' (>= 0) and 'train.rollback_lr' (in (0, 1]) are out "
                        f"of range: {cfg.train.max_rollbacks}, {cfg.train.rollback_lr}")
    if not 0 <= cfg.optim.decay_start < 1:
        raise UserError(f"config key 'optim.decay_start' must be in [0, 1), got {cfg.optim.decay_start}")
    if cfg.data.holdout < 0:
        raise UserError(f"config key 'data.holdout' must be >= 0 (0 keeps every example), got {cfg.data.holdout}")
    if cfg.eval.every < 0:
        raise UserError(f"config key 'eval.every' must be >= 0 (0 turns it off), got {cfg.eval.every}")
    if cfg.eval.n < 10:
        raise UserError(f"config key 'eval.n' must be at least 10, got {cfg.eval.n}")
    if cfg.model.d_max_norm < 0:
        raise UserError(f"config key 'model.d_max_norm' must be >= 0 (0 turns it off), got {cfg.model.d_max_norm}")
    for key in ("d_dropout", "d_input_dropout"):
        if not 0 <= getattr(cfg.model, key) < 1:
            raise UserError(f"config key 'model.{key}' must be in [0, 1), got {getattr(cfg.model, key)}")
    for key in ("g_init", "d_init"):
        if getattr(cfg.model, key) < 0:
            raise UserError(f"config key 'model.{key}' must be >= 0 (0: PyTorch's default), got {getattr(cfg.model, key)}")
    if cfg.data.channels not in (None, 1, 3):
        raise UserError(f"config key 'data.channels' must be 1 or 3, got {cfg.data.channels}")
    res = cfg.data.resolution
    if res is not None and res < 4:
        raise UserError(f"config key 'data.resolution' must be at least 4, got {res}")
    dev = cfg.train.device
    if not (dev in ("auto", "cpu", "cuda") or dev.startswith("cuda:")):
        raise UserError(f"config key 'train.device' must be auto, cpu, cuda or cuda:N, got {dev!r}")


def dump_yaml(cfg: Config) -> str:
    return yaml.safe_dump(to_dict(cfg), sort_keys=False)


# ---------------------------------------------------------------------------------------------
# The key table of `ganforge presets --keys`. Descriptions are the comments beside the dataclass fields,
# read from the source, so each key is documented in one place.


def field_docs(cls: type) -> dict[str, str]:
    """Each field of dataclass `cls` -> its comment in the source: the comment lines immediately above the
    field and the trailing comment on its line(s), joined; "" for a field with neither."""
    source = textwrap.dedent(inspect.getsource(cls))
    lines = source.splitlines()
    comments = {tok.start[0]: tok.string.lstrip("#").strip()  # line number (1-based) -> text
                for tok in tokenize.generate_tokens(io.StringIO(source).readline) if tok.type == tokenize.COMMENT}
    own_line = {n for n in comments if lines[n - 1].lstrip().startswith("#")}  # not trailing some code
    (node,) = ast.parse(source).body
    docs = {}
    for stmt in node.body:
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            continue
        above = []
        n = stmt.lineno - 1
        while n in own_line:  # a block of comment lines directly above (a trailing comment ends it)
            above.insert(0, comments[n])
            n -= 1
        trailing = [comments[n] for n in range(stmt.lineno, stmt.end_lineno + 1) if n in comments]
        docs[stmt.target.id] = " ".join(above + trailing)
    return docs


def _type_name(hint: Any) -> str:
    """A user's name for a field's type: int, list[int], str or null, ..."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        names = [_type_name(a) for a in args if a is not type(None)]
        return " or ".join(names + ["null"] * (type(None) in args))
    if typing.get_origin(hint) is list:
        return f"list[{_type_name(args[0])}]"
    return hint.__name__


def _rows(cls: type, prefix: str) -> list[tuple[str, str, str, str]]:
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    rows = []
    for f in dataclasses.fields(cls):
        hint = hints[f.name]
        if dataclasses.is_dataclass(hint):
            rows += _rows(hint, f"{prefix}{f.name}.")
        elif cls is OptimConfig and f.name == "groups":  # one OptimizerConfig per group: optim.g, optim.d, ...
            rows += _rows(OptimizerConfig, f"{prefix}<group>.")
        elif typing.get_origin(hint) is dict:  # an open section (family): its owners' keys are listed apart
            continue
        else:
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            choices = f.metadata.get("choices")
            allowed = ", ".join(choices) if choices else _type_name(hint)
            rows.append((prefix + f.name, json.dumps(default), allowed, docs[f.name]))
    return rows


def key_table(family_options: dict[str, type | None] | None = None) -> list[tuple[str, str, str, str]]:
    """Every config key as (key, default as JSON, allowed values, description): the Config tree, the keys of
    an optimiser group as optim.<group>.*, and each family's own options as family.* from `family_options`
    (family name -> its Options dataclass or None; given by the caller, as ganforge.families imports this
    module). A family option's description starts with the family that reads it."""
    rows = _rows(Config, "")
    shared: dict[str, list] = {}  # a key several families read is one row naming them all
    for name, options in (family_options or {}).items():
        for key, default, allowed, doc in _rows(options, "family.") if options is not None else []:
            shared.setdefault(key, []).append((name, default, allowed, doc))
    for key, readers in shared.items():
        defaults = {default for _, default, _, _ in readers}
        names = ", ".join(name if len(defaults) == 1 else f"{name} ({default})" for name, default, _, _ in readers)
        doc = next((d for *_, d in readers if d), "")
        rows.append((key, readers[0][1] if len(defaults) == 1 else "per family", readers[0][2],
                     f"model.family={names}" + (f": {doc}" if doc else "")))
    return rows


def format_key_table(rows: list[tuple[str, str, str, str]], width: int | None = None) -> str:
    """The key table for a terminal of `width` columns (default: the terminal's): a line per key with its
    default and allowed values in aligned columns, its description wrapped and indented below; a blank
    line between sections."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    header = ("KEY", "DEFAULT", "ALLOWED")
    key_w = max(len(r[0]) for r in rows + [header]) + 2
    default_w = max(len(r[1]) for r in rows + [header]) + 2
    allowed_wrap = max(width - key_w - default_w, 20)  # a long list of choices continues under itself
    out = [f"{header[0]:{key_w}s}{header[1]:{default_w}s}{header[2]}"]
    section = None
    for key, default, allowed, doc in rows:
        if key.split(".")[0] != section and section is not None:
            out.append("")
        section = key.split(".")[0]
        first, *more = textwrap.wrap(allowed, allowed_wrap) or [""]
        out.append(f"{key:{key_w}s}{default:{default_w}s}{first}".rstrip())
        out += [" " * (key_w + default_w) + line for line in more]
        out += textwrap.wrap(doc, width, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(out) + "\n"
