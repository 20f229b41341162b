"""The training loop: one for every family.

A family (ganforge.families) supplies networks and its D and G losses; this loop owns the data, the
optimisers, the k discriminator steps, logging, fixed-noise samples, checkpoints and resume.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
import yaml

from ganforge import __version__
from ganforge.config import Config, OptimizerConfig, dump_yaml, from_dict
from ganforge.data import Dataset, load_dataset
from ganforge.errors import TrainingDiverged, UserError
from ganforge.families import DataSpec, Family, build_family
from ganforge.families.gan import default_condition
from ganforge.files import write_text_atomic
from ganforge.train import checkpoint as ckpt
from ganforge.train import distributed
from ganforge.train.distributed import SINGLE, Ranks
from ganforge.train.ema import EMA
from ganforge.train.log import MetricsLog, NullLog, RunningStats, read_metrics
from ganforge.train.monitor import TrainingEval, affordable_extractor
from ganforge.train.resident import ResidentData
from ganforge.train.samples import SampleWriter

FIXED_NOISE_SEED_OFFSET = 1_000_003  # fixed-noise samples use their own stream, apart from training noise


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"train.device is '{name}' but no CUDA device is available; use --device cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def make_optimizer(opt: OptimizerConfig, params, device: torch.device | None = None) -> torch.optim.Optimizer:
    if opt.name == "adam":
        # fused on CUDA: one kernel for all parameters; elsewhere foreach: one call per operation for all of them,
        # bit for bit the per-tensor result (the CPU's fused kernel is faster still but rounds differently)
        fused = device is not None and device.type == "cuda"
        return torch.optim.Adam(params, lr=opt.lr, betas=tuple(opt.betas), fused=fused or None,
                                foreach=None if fused else True)
    if opt.name == "sgd":
        return torch.optim.SGD(params, lr=opt.lr, momentum=opt.momentum)
    return torch.optim.RMSprop(params, lr=opt.lr, momentum=opt.momentum)


def load_data(cfg: Config) -> Dataset:
    d = cfg.data
    resolution = d.resolution
    if resolution is None and cfg.model.arch == "dcgan28":
        resolution = 28  # the network fixes the size, so an image folder of any size can feed it
    return load_dataset(d.name, root=d.root, split=d.split, resolution=resolution, channels=d.channels,
                        n_toy=d.n_toy, seed=cfg.train.seed, on_bad_file=d.on_bad_file,
                        attributes=d.attributes or None)


def data_spec(dataset: Dataset) -> DataSpec:
    n_classes = len(dataset.class_names) if dataset.class_names else 0
    return DataSpec(tuple(dataset.x.shape[1:]), dataset.kind == "image", n_classes, tuple(dataset.attr_names or ()),
                    n_examples=len(dataset.x))


def training_labels(dataset: Dataset) -> torch.Tensor | None:
    """The labels batches carry: the 0/1 attributes when the data has them, else the classes."""
    return dataset.attributes if dataset.attributes is not None else dataset.y


def describe_data(dataset: Dataset) -> dict:
    """What `ganforge sample` needs to rebuild the networks and draw samples without loading the data."""
    spec = data_spec(dataset)
    return {"data": {"name": dataset.name, "kind": dataset.kind, "source": dataset.source, "n": len(dataset.x),
                     "shape": list(spec.shape), "n_classes": spec.n_classes, "class_names": dataset.class_names,
                     "attr_names": list(spec.attr_names),
                     "attr_means": None if dataset.attributes is None else dataset.attributes.mean(0).tolist(),
                     "modes": None if dataset.modes is None else dataset.modes.tolist(), "sigma": dataset.sigma}}


def fixed_noise(cfg: Config, n: int, device: torch.device) -> torch.Tensor:
    g = torch.Generator().manual_seed(cfg.train.seed + FIXED_NOISE_SEED_OFFSET)
    return torch.randn(n, cfg.model.z_dim, generator=g).to(device)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype of train.precision: auto is bf16 on a CUDA device that has it, else fp32 (None)."""
    if precision == "auto":
        cuda_bf16 = device.type == "cuda" and torch.cuda.is_bf16_supported()
        return torch.bfloat16 if cuda_bf16 else None
    return {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]


@dataclass
class Trainer:
    """Everything the loop mutates, so it can be saved and restored as one."""

    cfg: Config
    family: Family
    optimizers: dict[str, torch.optim.Optimizer]
    data: ResidentData
    noise: torch.Generator
    device: torch.device
    step: int = 0
    images_seen: int = 0
    ema: EMA | None = None
    rollbacks: int = 0  # divergences recovered from so far
    lr_scale: float = 1.0  # train.rollback_lr ** rollbacks
    amp_dtype: torch.dtype | None = None  # forward passes under autocast to this dtype (train.precision)
    scalers: dict[str, torch.amp.GradScaler] | None = None  # fp16: loss scaling, one per optimiser
    ranks: Ranks = SINGLE  # multi-process training: this process's share of each global batch
    d_frozen: frozen | None = None  # turns D's weight gradients off for G's step (see train_step)

    def z(self) -> torch.Tensor:
        """This rank's slice of the global batch's noise (all of it in one process)."""
        z = torch.randn(self.cfg.train.batch_size, self.cfg.model.z_dim, generator=self.noise, device=self.device)
        return distributed.my_slice(z, self.ranks)

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

    def optimise(self, name: str, loss: torch.Tensor) -> None:
        opt = self.optimizers[name]
        opt.zero_grad(set_to_none=True)
        if self.scalers:  # fp16: scale the loss so small gradients do not underflow; skip steps that overflow
            scaler = self.scalers[name]
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        self.family.after_step(name)

    def lr_factor(self) -> float:
        """The learning-rate multiplier at this step; a function of the step alone, so resume needs no state."""
        o, total = self.cfg.optim, self.cfg.train.steps
        start = int(o.decay_start * total)
        if o.decay == "none" or self.step < start:
            return 1.0
        return 1.0 - (self.step - start) / (total - start)

    def train_step(self, stats: RunningStats) -> None:
        """k discriminator steps, then one generator step (Algorithm 1 of Goodfellow et al. 2014)."""
        t = self.cfg.train
        if self.cfg.optim.decay != "none" or self.lr_scale != 1.0:
            factor = self.lr_factor() * self.lr_scale
            for name, opt_cfg in (("G", self.cfg.optim.g), ("D", self.cfg.optim.d)):
                for group in self.optimizers[name].param_groups:
                    group["lr"] = opt_cfg.lr * factor
        for _ in range(t.d_steps):
            z = self.z()
            with self.autocast():
                real = self.data.next_batch(t.batch_size, self.ranks.rank, self.ranks.world)
                loss, s = self.family.d_loss(real, z)
            self.optimise("D", loss)
            stats.add(s)
        if not (t.reuse_fake and t.d_steps == 1):
            z = self.z()
        if self.d_frozen is None:  # built once: listing D's parameters every step slows a small MLP
            self.d_frozen = frozen(self.family.networks["D"])
        with self.d_frozen:  # G's step needs D's input gradient, not its weight gradients
            with self.autocast():
                loss, s = self.family.g_loss(z)
            self.optimise("G", loss)
        stats.add(s)
        if self.ema is not None:
            self.ema.update(self.family.networks["G"])
        self.step += 1
        self.images_seen += t.batch_size * t.d_steps

    # -- checkpoints -------------------------------------------------------------------------------------

    def model_tensors(self) -> dict[str, torch.Tensor]:
        """The weights `ganforge sample` needs: every network, and G's moving average as G_ema."""
        nets = dict(self.family.networks)
        if self.ema is not None:
            nets["G_ema"] = self.family.sampler()  # the shadow, its BatchNorm statistics refreshed
        return {f"{name}.{k}": v for name, net in nets.items() for k, v in net.state_dict().items()}

    def save(self, run_dir: Path) -> Path:
        model = self.model_tensors()
        state: dict[str, torch.Tensor] = {}
        optim_meta = {}
        for name, opt in self.optimizers.items():
            tensors, optim_meta[name] = ckpt.flatten_optimizer(name, opt)
            state.update(tensors)
        rng_tensors, rng_plain = ckpt.rng_state()
        state.update(rng_tensors)
        data_state = self.data.state_dict()
        state["data.order"] = data_state["order"]
        state["data.generator"] = data_state["generator"]
        state["noise.generator"] = self.noise.get_state()
        state.update({f"family.{k}": v for k, v in self.family.state_tensors().items()})
        if self.ema is not None:
            state["ema.num_updates"] = torch.tensor([self.ema.num_updates], dtype=torch.int64)
        if self.scalers:
            state.update({f"scaler.{name}.{k}": torch.tensor([float(v)], dtype=torch.float64)
                          for name, scaler in self.scalers.items() for k, v in scaler.state_dict().items()
                          if k in ("scale", "_growth_tracker")})
        meta = {"step": self.step, "images_seen": self.images_seen, "rollbacks": self.rollbacks,
                "lr_scale": self.lr_scale, "epoch": data_state["epoch"],
                "position": data_state["position"], "optimizers": optim_meta, "rng": rng_plain,
                "ganforge": __version__, "time": datetime.now().isoformat(timespec="seconds")}
        return ckpt.save_checkpoint(run_dir, self.step, model, state, meta, keep=self.cfg.log.keep_checkpoints)

    def load(self, path: Path) -> None:
        model, state, meta = ckpt.load_checkpoint(path)
        for name, net in self.family.networks.items():
            net.load_state_dict(ckpt.split_prefixed(model, f"{name}."))
        for name, opt in self.optimizers.items():
            opt.load_state_dict(ckpt.unflatten_optimizer(name, state, meta["optimizers"][name]))
        ckpt.set_rng_state(state, meta["rng"])
        self.data.load_state_dict({"epoch": meta["epoch"], "position": meta["position"],
                                   "order": state["data.order"], "generator": state["data.generator"]})
        self.noise.set_state(state["noise.generator"])
        self.family.load_state_tensors(ckpt.split_prefixed(state, "family."))
        for name, scaler in (self.scalers or {}).items():
            saved = ckpt.split_prefixed(state, f"scaler.{name}.")
            if saved:
                scaler.load_state_dict({**scaler.state_dict(), "scale": float(saved["scale"].item()),
                                        "_growth_tracker": int(saved["_growth_tracker"].item())})
        if self.ema is not None:
            self.ema.shadow.load_state_dict(ckpt.split_prefixed(model, "G_ema."))
            self.ema.num_updates = int(state["ema.num_updates"].item())
        self.step = meta["step"]
        self.images_seen = meta["images_seen"]
        self.rollbacks, self.lr_scale = meta.get("rollbacks", 0), meta.get("lr_scale", 1.0)
        if not self.ranks.main:  # the checkpoint holds rank 0's streams; the others draw their own again
            seed_everything(self.cfg.train.seed + self.ranks.rank * distributed.RANK_SEED_STRIDE + self.step)

    def weights_finite(self) -> bool:
        """Every weight and buffer finite: one host sync, done only before a checkpoint is written."""
        tensors = [t for t in self.model_tensors().values() if t.is_floating_point()]
        return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())


class frozen:
    """Context manager: no weight gradients for `module` inside (they would be computed and thrown away)."""

    def __init__(self, module: torch.nn.Module):
        self.params = [p for p in module.parameters() if p.requires_grad]

    def __enter__(self):
        for p in self.params:
            p.requires_grad_(False)

    def __exit__(self, *exc):
        for p in self.params:
            p.requires_grad_(True)


def build_trainer(cfg: Config, dataset: Dataset, ranks: Ranks = SINGLE, device: torch.device | None = None) -> Trainer:
    """Everything training needs; with several `ranks` (torchrun), `device` is this rank's and the networks
    are wrapped in DistributedDataParallel."""
    device = device or resolve_device(cfg.train.device)
    if ranks.enabled:
        distributed.local_batch(cfg.train.batch_size, ranks)  # the global batch must split evenly
    seed_everything(cfg.train.seed)  # the same initial weights on every rank
    family = build_family(cfg, data_spec(dataset)).to(device)
    # channels_last: the layout cuDNN's fastest convolutions (and tensor cores) want
    channels_last = device.type == "cuda" and dataset.kind == "image"
    if channels_last:
        family.to(memory_format=torch.channels_last)
    if ranks.enabled:
        family.distribute(lambda net: distributed.wrap(net, device, cfg.train.sync_bn))
        if not ranks.main:  # distinct, reproducible streams for dropout, penalties and replay on each rank
            seed_everything(cfg.train.seed + ranks.rank * distributed.RANK_SEED_STRIDE)
    optimizers = {
        "G": make_optimizer(cfg.optim.g, family.networks["G"].parameters(), device),
        "D": make_optimizer(cfg.optim.d, family.networks["D"].parameters(), device),
    }
    data = ResidentData(dataset.x, training_labels(dataset), device, seed=cfg.train.seed, channels_last=channels_last)
    noise = torch.Generator(device=device).manual_seed(cfg.train.seed + 1)
    ema = None
    if cfg.train.ema > 0:
        ema = EMA(family.networks["G"], cfg.train.ema)
        family.G_ema = ema.shadow  # grids, evaluation and `ganforge sample` use the average
        family.ema = ema
    amp_dtype = autocast_dtype(cfg.train.precision, device)
    scalers = None
    if amp_dtype == torch.float16:
        scalers = {name: torch.amp.GradScaler(device.type) for name in ("G", "D")}
    if cfg.train.compile != "off":
        compile_networks(family, cfg, device)
    return Trainer(cfg, family, optimizers, data, noise, device, ema=ema, amp_dtype=amp_dtype, scalers=scalers,
                   ranks=ranks)


def compile_networks(family: Family, cfg: Config, device: torch.device) -> bool:
    """torch.compile G and D in place (their weights and state_dict keys unchanged); train.compile=graphs
    also captures CUDA graphs. A trial forward finds a compiler that cannot work here (no C++ compiler, no
    Triton), in which case training goes on uncompiled with a warning."""
    import warnings

    mode = "reduce-overhead" if cfg.train.compile == "graphs" else None
    nets = [family.networks["G"], family.networks["D"]]
    for net in nets:
        net.compile(mode=mode)
    was_training = family.training
    try:
        family.eval()
        with torch.no_grad():  # eval mode, no grad: BatchNorm statistics and RNG streams are left untouched
            z = torch.zeros(2, cfg.model.z_dim, device=device)
            fake = family.generate(z)
            labels = default_condition(2, family.n_cond, family.attributes, device) if family.conditional else None
            family.critic(fake, labels)
        return True
    except Exception as exc:  # noqa: BLE001 - the compiler stack raises many types; any failure: do not compile
        torch._dynamo.reset()  # loaded by net.compile above
        for net in nets:
            net._compiled_call_impl = None  # undo nn.Module.compile
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        warnings.warn(f"train.compile={cfg.train.compile} failed ({first[:200]}); training without compilation",
                      stacklevel=2)
        return False
    finally:
        family.train(was_training)


def default_run_dir(cfg_name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{cfg_name}-{stamp}"


def is_run_dir(path: Path) -> bool:
    return (Path(path) / "config.yaml").is_file()


def read_run_config(run_dir: Path) -> Config:
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise UserError(f"{run_dir} is not a ganforge run (no config.yaml); give the folder `ganforge train` made")
    return from_dict(yaml.safe_load(path.read_text()) or {})


def train(cfg: Config, run_dir: Path, resume: bool = False, quiet: bool = False) -> dict:
    """Train (or continue) the run in `run_dir`; returns a summary dict (rank 0's; other ranks return {}).
    Launched by torchrun with several processes, each trains its share of every batch
    (see ganforge.train.distributed)."""
    ranks = distributed.ranks_from_env()
    if not ranks.enabled:
        return _train(cfg, Path(run_dir), resume, quiet, SINGLE, None)
    try:
        device = distributed.start(ranks, cfg.train.device)
        return _train(cfg, Path(run_dir), resume, quiet or not ranks.main, ranks, device)
    finally:
        distributed.stop()


def _train(cfg: Config, run_dir: Path, resume: bool, quiet: bool, ranks: Ranks, device: torch.device | None) -> dict:
    main = ranks.main  # rank 0 writes every file; the others train their share and stay silent
    if not resume and run_dir.exists() and any(run_dir.iterdir()):
        raise UserError(f"{run_dir} already exists and is not empty; use --resume {run_dir} or choose another --out")
    # everything a user can get wrong is checked before the run folder is touched
    dataset = load_data(cfg)
    trainer = build_trainer(cfg, dataset, ranks, device)
    if ranks.enabled:
        torch.distributed.barrier()  # every rank has checked the run folder before rank 0 writes into it
    sampler = SampleWriter(run_dir, dataset, fixed_noise(cfg, _n_fixed(cfg, dataset), trainer.device))
    evaluator = None
    if main and cfg.eval.every and dataset.kind == "image" and not affordable_extractor(cfg, dataset.name, trainer.device):
        if not quiet:
            print(f"eval.every is set, but {dataset.name} has no domain classifier and the FID Inception takes "
                  "minutes per evaluation on a CPU: no evaluation during training (set eval.extractor=inception "
                  "to force it, or eval.every=0 to silence this)")
    elif main and cfg.eval.every:
        evaluator = TrainingEval(cfg, dataset, trainer.device, load_data)
    if resume:
        if ckpt.list_checkpoints(run_dir):
            trainer.load(ckpt.latest_checkpoint(run_dir))
            if evaluator:
                evaluator.restore(run_dir)
        elif not quiet:  # stopped before its first checkpoint: nothing to continue, so start over
            print(f"{run_dir} has no checkpoint yet: starting it from step 0")
        if main:
            _truncate_metrics(run_dir, trainer.step)
            sampler.truncate(trainer.step)
    if main:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(run_dir / "config.yaml", dump_yaml(cfg))
        write_text_atomic(run_dir / "run.json", json.dumps(describe_data(dataset), indent=1))
    if not quiet:
        _print_header(cfg, dataset, trainer, run_dir, resume)

    images_per_step = cfg.train.batch_size * cfg.train.d_steps
    log = (MetricsLog(run_dir, cfg.train.steps, trainer.step, images_per_step, quiet, cfg.log.tensorboard)
           if main else NullLog())
    stats = RunningStats()
    started = time.perf_counter()
    start_step = trainer.step
    lg = cfg.log
    guard = cfg.train.on_divergence != "ignore"
    try:
        if trainer.step == 0 and main:
            sampler.write(trainer.family, 0)
        while trainer.step < cfg.train.steps:
            trainer.train_step(stats)
            log.advance()
            step, last = trainer.step, trainer.step == cfg.train.steps
            if step % lg.every == 0 or last:
                values = distributed.mean_over_ranks(stats.read_and_reset(), ranks)
                if guard and not all(math.isfinite(v) for v in values.values()):
                    bad = ", ".join(k for k, v in values.items() if not math.isfinite(v))
                    _recover(trainer, run_dir, log, sampler, stats, f"{bad} not finite at step {step}")
                    continue
                log.log(step, trainer.images_seen, values)
            if main and (step % lg.sample_every == 0 or last):
                frame = sampler.write(trainer.family, step)
                if dataset.kind == "image":
                    from PIL import Image

                    log.add_image("samples", np.asarray(Image.open(frame)), step)
            if evaluator and (step % cfg.eval.every == 0 or last):
                values, better = evaluator(trainer.family, step)
                log.log_eval(step, trainer.images_seen, values)
                if better:
                    record = {"metric": evaluator.name, "value": evaluator.best, "values": values}
                    ckpt.save_best(run_dir, step, trainer.model_tensors(), record)
            if step % lg.checkpoint_every == 0 or last:
                if guard and not trainer.weights_finite():  # a NaN state never replaces a good checkpoint
                    _recover(trainer, run_dir, log, sampler, stats, f"weights not finite at step {step}")
                    continue
                if main:
                    trainer.save(run_dir)
        if ranks.enabled:
            torch.distributed.barrier()  # the others wait for rank 0's last checkpoint
    except TrainingDiverged:
        log.close()
        raise
    except KeyboardInterrupt:
        # the interrupted step may be half done, so the state is not saved; the last checkpoint is consistent
        log.close()
        saved = ckpt.list_checkpoints(run_dir)
        where = f"the last checkpoint is {saved[-1].name}" if saved else "no checkpoint was written yet"
        print(f"\ninterrupted at step {trainer.step}; {where}. Continue with: ganforge train --resume {run_dir}")
        raise
    log.close()
    if not main:
        return {}
    elapsed = time.perf_counter() - started
    records = read_metrics(run_dir)
    pictures = sampler.finish(run_dir, trainer.family, trainer.step, records)
    summary = {
        "run_dir": str(run_dir), "steps": trainer.step, "images_seen": trainer.images_seen,
        "seconds": round(elapsed, 1),
        "images_per_s": round((trainer.step - start_step) * images_per_step / max(elapsed, 1e-9), 1),
        "final": records[-1] if records else {},
        "pictures": {k: str(v) for k, v in pictures.items()},
    }
    best = run_dir / "checkpoints" / "best" / "best.json"
    if evaluator and best.is_file():
        record = json.loads(best.read_text())
        summary["best"] = {"step": record["step"], evaluator.name: record["value"], "eval": evaluator.describe()}
    write_text_atomic(run_dir / "summary.json", json.dumps(summary, indent=1))
    return summary


def _recover(trainer: Trainer, run_dir: Path, log: MetricsLog, sampler: SampleWriter, stats: RunningStats,
             what: str) -> None:
    """Divergence: roll back to the last checkpoint with lower learning rates, or stop with a clear message."""
    cfg = trainer.cfg.train
    good = ckpt.latest_checkpoint(run_dir) if ckpt.list_checkpoints(run_dir) else None  # sound ones only
    advice = "lower optim.g.lr and optim.d.lr, or add a penalty or spectral norm"
    if cfg.on_divergence == "stop" or trainer.rollbacks >= cfg.max_rollbacks or good is None:
        where = f"the last good checkpoint is {good}" if good else "no checkpoint was written before it"
        times = f" after {trainer.rollbacks} rollback(s)" if trainer.rollbacks else ""
        log.log_event(trainer.step, {"event": "diverged", "reason": what})
        raise TrainingDiverged(f"training diverged{times}: {what}; {where}; {advice}")
    rollbacks = trainer.rollbacks + 1
    trainer.load(good)
    trainer.rollbacks, trainer.lr_scale = rollbacks, cfg.rollback_lr**rollbacks
    stats.read_and_reset()
    if trainer.ranks.main:
        _truncate_metrics(run_dir, trainer.step)
        sampler.truncate(trainer.step)
    log.rewind(trainer.step)
    log.log_event(trainer.step, {"event": "rollback", "reason": what, "to": good.name,
                                 "lr_scale": trainer.lr_scale})


def _n_fixed(cfg: Config, dataset: Dataset) -> int:
    return cfg.log.n_samples if dataset.kind == "image" else cfg.log.n_points


def _truncate_metrics(run_dir: Path, step: int) -> None:
    """Drop metric lines written after the checkpoint being resumed (they will be written again)."""
    path = run_dir / "metrics.jsonl"
    kept = [r for r in read_metrics(run_dir) if r["step"] <= step]
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in kept))


def _print_header(cfg: Config, dataset: Dataset, trainer: Trainer, run_dir: Path, resume: bool) -> None:
    n_g = sum(p.numel() for p in trainer.family.networks["G"].parameters())
    n_d = sum(p.numel() for p in trainer.family.networks["D"].parameters())
    shape = "x".join(str(s) for s in dataset.x.shape[1:])
    what = f"resuming at step {trainer.step}" if resume else "training"
    print(f"ganforge {what}: {cfg.model.family}/{cfg.model.arch} (G {n_g:,} params, D {n_d:,}) on {dataset.name} "
          f"({len(dataset.x):,} x {shape}, {dataset.source}) for {cfg.train.steps:,} steps of batch "
          f"{cfg.train.batch_size}, k={cfg.train.d_steps}, loss.g={cfg.loss.g}, device {trainer.device}")
    print(f"run folder: {run_dir}")
