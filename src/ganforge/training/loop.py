"""The training loop: one for every family.

A family (ganforge.families) declares its networks, optimiser groups, phases and one loss per phase; this
loop runs the phases of each iteration in order (a phase repeated `repeat` times, on iterations divisible by
`every`), backpropagates each loss into its group's optimiser with the phase's frozen groups off, and owns
the data, the optimisers and their schedule, precision, compilation, several processes, the EMA of the
sampling network, logging, fixed-input samples, evaluation, checkpoints, rollback and resume.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from ganforge import checkpoint as ckpt
from ganforge import runs
from ganforge.config import Config, OptimizerConfig
from ganforge.data import Dataset
from ganforge.data.spec import data_spec, training_labels
from ganforge.errors import TrainingDiverged, UserError
from ganforge.families import Family, Phase, Step, build_family
from ganforge.files import write_text_atomic
from ganforge.generator import SHOWCASE
from ganforge.runs import read_metrics
from ganforge.runtime import autocast_dtype, resolve_device, seed_everything
from ganforge.training import distributed
from ganforge.training.distributed import SINGLE, Ranks
from ganforge.training.ema import EMA
from ganforge.training.log import MetricsLog, NullLog, RunningStats
from ganforge.training.monitor import TrainingEval, affordable_extractor
from ganforge.training.resident import ResidentData, UnpairedData, make_resident
from ganforge.training.samples import SampleWriter
from ganforge.version import __version__

FIXED_NOISE_SEED_OFFSET = 1_000_003  # fixed-input samples use their own stream, apart from training noise


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


def fixed_inputs(cfg: Config, family: Family, n: int, device: torch.device) -> dict[str, torch.Tensor]:
    """The sampling network's inputs for the pictures drawn during training: the same at every step."""
    g = torch.Generator().manual_seed(cfg.train.seed + FIXED_NOISE_SEED_OFFSET)
    return {k: v.to(device) for k, v in family.noise(n, g).items()}


def group_parameters(nets: list[torch.nn.Module]) -> list[torch.nn.Parameter]:
    """The parameters of a group's networks, each once."""
    seen: dict[int, torch.nn.Parameter] = {}
    for net in nets:
        for p in net.parameters():
            seen.setdefault(id(p), p)
    return list(seen.values())


@dataclass
class Trainer:
    """Everything the loop mutates, so it can be saved and restored as one."""

    cfg: Config
    family: Family
    optimizers: dict[str, torch.optim.Optimizer]  # one per optimiser group of the family
    data: ResidentData | UnpairedData
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
    phases: list[Phase] = field(default_factory=list)
    frozen: dict[str, frozen] = field(default_factory=dict)  # per phase, built once (see freeze)

    def autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

    def optimise(self, group: str, loss: torch.Tensor) -> None:
        opt = self.optimizers[group]
        opt.zero_grad(set_to_none=True)
        if self.scalers:  # fp16: scale the loss so small gradients do not underflow; skip steps that overflow
            scaler = self.scalers[group]
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
        else:
            loss.backward()
            opt.step()
        self.family.after_step(group)

    def freeze(self, phase: Phase):
        """No weight gradients for the phase's frozen groups (G's step needs D's input gradient only). Listed
        once per phase: listing the parameters every step slows a small MLP."""
        if not phase.freeze:
            return contextlib.nullcontext()
        if phase.name not in self.frozen:
            groups = self.family.groups()
            self.frozen[phase.name] = frozen([net for g in phase.freeze for net in groups[g]])
        return self.frozen[phase.name]

    def lr_factor(self) -> float:
        """The learning-rate multiplier at this step; a function of the step alone, so resume needs no state."""
        o, total = self.cfg.optim, self.cfg.train.steps
        start = int(o.decay_start * total)
        if o.decay == "none" or self.step < start:
            return 1.0
        return 1.0 - (self.step - start) / (total - start)

    def train_step(self, stats: RunningStats) -> None:
        """One iteration: the family's phases in order, each loss stepping its group's optimiser."""
        if self.cfg.optim.decay != "none" or self.lr_scale != 1.0:
            factor = self.lr_factor() * self.lr_scale
            for name, opt in self.optimizers.items():
                lr = self.cfg.optim.group(name).lr * factor
                for group in opt.param_groups:
                    group["lr"] = lr
        batch_size = self.family.batch_size(self.step)
        batch = None
        drawn = 0
        for phase in self.phases:
            if self.step % phase.every:
                continue
            for _ in range(phase.repeat):
                if phase.data or batch is None:
                    batch = self.data.next_batch(batch_size, self.ranks.rank, self.ranks.world)
                    drawn += batch_size
                context = Step(self.step, self.images_seen + drawn, batch_size, self.noise, self.device,
                               self.ranks.rank, self.ranks.world)
                with self.freeze(phase):
                    with self.autocast():
                        loss, s = self.family.loss(phase.name, batch, context)
                    self.optimise(phase.steps, loss)
                stats.add(s)
        if self.ema is not None:
            self.ema.update(self.family.networks[self.family.SAMPLER])
        self.step += 1
        self.images_seen += drawn

    # -- checkpoints -------------------------------------------------------------------------------------

    def data_streams(self) -> dict[str, ResidentData]:
        """The resident data's streams by checkpoint name: "data", or data_A and data_B for unpaired domains."""
        if isinstance(self.data, UnpairedData):
            return {f"data_{k}": v for k, v in self.data.domains.items()}
        return {"data": self.data}

    def model_tensors(self) -> dict[str, torch.Tensor]:
        """The weights sampling needs: every network, and the sampling network's average as <name>_ema."""
        averaged = None
        if self.ema is not None:
            self.family.sampler()  # brings the average's BatchNorm statistics up to date
            averaged = {k.removeprefix("shadow."): v for k, v in self.ema.state_dict().items() if k.startswith("shadow.")}
        return ckpt.weights_tensors(self.family.networks, self.family.sampling_tensors(), self.family.SAMPLER, averaged)

    def save(self, run_dir: Path) -> Path:
        model = self.model_tensors()
        state: dict[str, torch.Tensor] = {}
        optim_meta = {}
        for name, opt in self.optimizers.items():
            tensors, optim_meta[name] = ckpt.flatten_optimizer(name, opt)
            state.update(tensors)
        rng_tensors, rng_plain = ckpt.rng_state()
        state.update(rng_tensors)
        streams = {}
        for name, part in self.data_streams().items():
            data_state = part.state_dict()
            state[f"{name}.order"] = data_state["order"]
            state[f"{name}.generator"] = data_state["generator"]
            streams[name] = {"epoch": data_state["epoch"], "position": data_state["position"]}
        state["noise.generator"] = self.noise.get_state()
        state.update({f"family.{k}": v for k, v in self.family.state_tensors().items()})
        if self.ema is not None:
            state["ema.num_updates"] = self.ema.state_dict()["num_updates"]
        if self.scalers:
            state.update({f"scaler.{name}.{k}": torch.tensor([float(v)], dtype=torch.float64)
                          for name, scaler in self.scalers.items() for k, v in scaler.state_dict().items()
                          if k in ("scale", "_growth_tracker")})
        meta = {"step": self.step, "images_seen": self.images_seen, "rollbacks": self.rollbacks,
                "lr_scale": self.lr_scale, "epoch": next(iter(streams.values()))["epoch"],
                "position": next(iter(streams.values()))["position"], "streams": streams,
                "optimizers": optim_meta, "rng": rng_plain,
                "family": self.cfg.model.family, "ganforge": __version__,
                "time": datetime.now().isoformat(timespec="seconds")}
        return ckpt.save_checkpoint(run_dir, self.step, model, state, meta, keep=self.cfg.log.keep_checkpoints)

    def load(self, path: Path) -> None:
        model, state, meta = ckpt.load_checkpoint(path)
        weights, extra, averaged = ckpt.weights_parts(model, self.family.networks, self.family.SAMPLER)
        for name, net in self.family.networks.items():
            net.load_state_dict(weights[name])
        self.family.load_sampling_tensors(extra)
        missing = [name for name in self.optimizers if name not in meta["optimizers"]]
        if missing:
            raise UserError(f"{path} holds no optimiser state for group {missing[0]} of the "
                            f"{self.cfg.model.family} family; it was written by another family or version")
        for name, opt in self.optimizers.items():
            opt.load_state_dict(ckpt.unflatten_optimizer(name, state, meta["optimizers"][name]))
        ckpt.set_rng_state(state, meta["rng"])
        streams = meta.get("streams", {"data": {"epoch": meta["epoch"], "position": meta["position"]}})
        for name, part in self.data_streams().items():
            part.load_state_dict({**streams[name], "order": state[f"{name}.order"],
                                  "generator": state[f"{name}.generator"]})
        self.noise.set_state(state["noise.generator"])
        self.family.load_state_tensors(ckpt.split_prefixed(state, "family."))
        for name, scaler in (self.scalers or {}).items():
            saved = ckpt.split_prefixed(state, f"scaler.{name}.")
            if saved:
                scaler.load_state_dict({**scaler.state_dict(), "scale": float(saved["scale"].item()),
                                        "_growth_tracker": int(saved["_growth_tracker"].item())})
        if self.ema is not None:
            self.ema.load_state_dict({**{f"shadow.{k}": v for k, v in averaged.items()},
                                      "num_updates": state["ema.num_updates"]})
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
    """Context manager: no weight gradients for `modules` inside (they would be computed and thrown away)."""

    def __init__(self, modules: torch.nn.Module | list[torch.nn.Module]):
        modules = modules if isinstance(modules, list) else [modules]
        self.params = [p for p in group_parameters(modules) if p.requires_grad]

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
    if family.spec.translates or dataset.kind == "video":  # pictures use the same held-out inputs at every step
        family.attach_showcase(runs.showcase(cfg, dataset))
    optimizers = {name: make_optimizer(cfg.optim.group(name), group_parameters(nets), device)
                  for name, nets in family.groups().items()}
    data = make_resident(dataset, training_labels(dataset), device, seed=cfg.train.seed, channels_last=channels_last)
    noise = torch.Generator(device=device).manual_seed(cfg.train.seed + 1)
    ema = None
    if cfg.train.ema > 0:
        ema = EMA(family.networks[family.SAMPLER], cfg.train.ema)
        family.attach_ema(ema)  # grids, evaluation and `ganforge sample` use the average
    amp_dtype = autocast_dtype(cfg.train.precision, device)
    scalers = None
    if amp_dtype == torch.float16:
        scalers = {name: torch.amp.GradScaler(device.type) for name in optimizers}
    if cfg.train.compile != "off":
        compile_networks(family, cfg, device)
    return Trainer(cfg, family, optimizers, data, noise, device, ema=ema, amp_dtype=amp_dtype, scalers=scalers,
                   ranks=ranks, phases=family.phases())


def compile_networks(family: Family, cfg: Config, device: torch.device) -> bool:
    """torch.compile every network in place (weights and state_dict keys unchanged); train.compile=graphs
    also captures CUDA graphs. A trial forward finds a compiler that cannot work here (no C++ compiler, no
    Triton), in which case training goes on uncompiled with a warning."""
    import warnings

    mode = "reduce-overhead" if cfg.train.compile == "graphs" else None
    nets = list(family.networks.values())
    for net in nets:
        net.compile(mode=mode)
    was_training = family.training
    try:
        family.eval()
        with torch.no_grad():  # eval mode, no grad: BatchNorm statistics and RNG streams are left untouched
            family.forward_check(device)
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


def train(cfg: Config, run_dir: Path, resume: bool = False, quiet: bool = False) -> dict:
    """Train (or continue) the run in `run_dir`; returns a summary dict (rank 0's; other ranks return {}).
    Launched by torchrun with several processes, each trains its share of every batch
    (see ganforge.training.distributed)."""
    ranks = distributed.ranks_from_env()
    if not ranks.enabled:
        return _train(cfg, Path(run_dir), resume, quiet, SINGLE, None)
    try:
        device = distributed.start(ranks, cfg.train.device)
        return _train(cfg, Path(run_dir), resume, quiet or not ranks.main, ranks, device)
    finally:
        distributed.stop()


class StopRequest:
    """SIGINT (Ctrl-C) or SIGTERM during training: finish the step, write a checkpoint and the pictures, then
    stop. A second signal stops at once. Single-process runs only: under torchrun each rank would stop at its
    own step, so there the signal interrupts as usual."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.signal: str | None = None
        self.previous: dict = {}

    def __enter__(self):
        if self.enabled:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.signal is not None:
            raise KeyboardInterrupt
        self.signal = signal.Signals(signum).name
        print(f"\n{self.signal}: stopping after this step with a checkpoint (again to stop at once)",
              file=sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)


def _train(cfg: Config, run_dir: Path, resume: bool, quiet: bool, ranks: Ranks, device: torch.device | None) -> dict:
    main = ranks.main  # rank 0 writes every file; the others train their share and stay silent
    if not resume:
        runs.check_new(run_dir)
    # everything a user can get wrong is checked before the run folder is touched
    cfg = runs.resolved(cfg)
    note = None
    if not resume:
        cfg, note = runs.fit_to_folder(cfg)
    dataset = runs.load_data(cfg)
    trainer = build_trainer(cfg, dataset, ranks, device)
    if resume and ckpt.list_checkpoints(run_dir):
        trainer.load(ckpt.latest_checkpoint(run_dir))
        if trainer.step >= cfg.train.steps:  # refused before anything in the run folder changes
            raise UserError(f"{run_dir} is at step {trainer.step:,}, and the target train.steps is "
                            f"{cfg.train.steps:,}: nothing to train; give the new total, e.g. --steps "
                            f"{trainer.step + cfg.train.steps}")
    if trainer.step == 0:
        trainer.family.begin_training(dataset)  # e.g. SRGAN's G from an SRResNet run
    if ranks.enabled:
        torch.distributed.barrier()  # every rank has checked the run folder before rank 0 writes into it
    sampler = SampleWriter(run_dir, dataset, fixed_inputs(cfg, trainer.family, _n_fixed(cfg, dataset), trainer.device))
    evaluator, eval_line = None, None
    if main and cfg.eval.every and dataset.kind == "image" and not affordable_extractor(cfg, dataset.name, trainer.device):
        eval_line = (f"none during training ({dataset.name} has no domain classifier, and the FID Inception takes "
                     "minutes per evaluation on a CPU; eval.extractor=inception forces it)")
    elif main and cfg.eval.every:
        evaluator = TrainingEval(cfg, dataset, trainer.family, trainer.device)
        eval_line = f"{evaluator.describe()} every {cfg.eval.every:,} steps; the best weights kept"
    if resume:
        if ckpt.list_checkpoints(run_dir):
            if evaluator:
                evaluator.restore(run_dir)
        elif not quiet:  # stopped before its first checkpoint: nothing to continue, so start over
            print(f"{run_dir} has no checkpoint yet: starting it from step 0")
        if main:
            runs.truncate_metrics(run_dir, trainer.step)
            sampler.truncate(trainer.step)
    if main:
        runs.write_run_files(run_dir, cfg, dataset)
        if dataset.skipped_files:
            write_text_atomic(run_dir / "skipped_files.txt", "".join(f"{line}\n" for line in dataset.skipped_files))
        if not (run_dir / "reals.png").exists():
            sampler.write_reals(run_dir, cfg.train.seed)
    if not quiet:
        if note:
            print(f"note: {note}")
        if dataset.skipped_files:
            print(f"note: skipped {len(dataset.skipped_files):,} unreadable files of {dataset.source} (data.on_bad_file="
                  f"skip); their names and reasons: {run_dir / 'skipped_files.txt'}")
        _print_header(cfg, dataset, trainer, run_dir, resume, eval_line)

    images_per_step = cfg.train.batch_size * max(1, sum(p.repeat for p in trainer.phases if p.data and p.every == 1))
    log = (MetricsLog(run_dir, cfg.train.steps, trainer.step, images_per_step, quiet, cfg.log.tensorboard)
           if main else NullLog())
    stats = RunningStats()
    started = time.perf_counter()
    start_step = trainer.step
    lg = cfg.log
    guard = cfg.train.on_divergence != "ignore"
    with StopRequest(enabled=not ranks.enabled) as stop:
        try:
            if trainer.step == 0 and main:
                sampler.write(trainer.family, 0)
            while trainer.step < cfg.train.steps:
                trainer.train_step(stats)
                log.advance()
                # a stop request makes this step the last: logged, drawn, evaluated and saved as such
                step, last = trainer.step, trainer.step == cfg.train.steps or stop.signal is not None
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
                        record = {"metric": evaluator.key, "value": evaluator.best, "values": values}
                        ckpt.save_best(run_dir, step, trainer.model_tensors(), record)
                if step % lg.checkpoint_every == 0 or last:
                    if guard and not trainer.weights_finite():  # a NaN state never replaces a good checkpoint
                        _recover(trainer, run_dir, log, sampler, stats, f"weights not finite at step {step}")
                        continue
                    if main:
                        trainer.save(run_dir)
                if last and stop.signal:
                    break
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
        "final": _final_values(records),
        "pictures": {k: str(v) for k, v in pictures.items()},
    }
    if stop.signal:
        summary["stopped"] = {"signal": stop.signal, "target": cfg.train.steps}
    best = run_dir / "checkpoints" / "best" / "best.json"
    if evaluator and best.is_file():
        record = json.loads(best.read_text())
        summary["best"] = {"step": record["step"], "metric": evaluator.key, "value": record["value"],
                           "eval": evaluator.describe()}
    write_text_atomic(run_dir / "summary.json", json.dumps(summary, indent=1))
    return summary


def _recover(trainer: Trainer, run_dir: Path, log: MetricsLog, sampler: SampleWriter, stats: RunningStats,
             what: str) -> None:
    """Divergence: roll back to the last checkpoint with lower learning rates, or stop with a clear message."""
    cfg = trainer.cfg.train
    good = ckpt.latest_checkpoint(run_dir) if ckpt.list_checkpoints(run_dir) else None  # sound ones only
    advice = ("lower the learning rates (optim.<group>.lr), or add a penalty or spectral norm" if set(trainer.optimizers)
              != {"G", "D"} else "lower optim.g.lr and optim.d.lr, or add a penalty or spectral norm")
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
        runs.truncate_metrics(run_dir, trainer.step)
        sampler.truncate(trainer.step)
    log.rewind(trainer.step)
    log.log_event(trainer.step, {"event": "rollback", "reason": what, "to": good.name,
                                 "lr_scale": trainer.lr_scale})


def _final_values(records: list[dict]) -> dict:
    """Every value logged at the last step: the training losses and, when an evaluation landed there, its
    values too (each is its own line of metrics.jsonl)."""
    records = [r for r in records if "event" not in r]
    if not records:
        return {}
    last = records[-1]["step"]
    return {k: v for r in records if r["step"] == last for k, v in r.items()}


def _n_fixed(cfg: Config, dataset: Dataset) -> int:
    if dataset.inputs is not None or dataset.kind == "video":  # held-out examples (clips), each once
        return SHOWCASE
    return cfg.log.n_samples if dataset.kind == "image" else cfg.log.n_points


def _print_header(cfg: Config, dataset: Dataset, trainer: Trainer, run_dir: Path, resume: bool,
                  eval_line: str | None) -> None:
    sizes = ", ".join(f"{name} {sum(p.numel() for p in net.parameters()):,}"
                      for name, net in trainer.family.networks.items())
    shape = "x".join(str(s) for s in dataset.x.shape[1:])
    what = f"resuming at step {trainer.step:,}" if resume else "training"
    steps = (f"to step {cfg.train.steps:,} ({cfg.train.steps - trainer.step:,} more)" if resume
             else f"for {cfg.train.steps:,} steps")
    phases = ", ".join(f"{p.name}" + (f" x{p.repeat}" if p.repeat > 1 else "") + (f" every {p.every}" if p.every > 1
                       else "") for p in trainer.phases)
    arch = f"/{cfg.model.arch}" if cfg.model.family == "gan" else ""
    print(f"ganforge {what}: {cfg.model.family}{arch} (params: {sizes}) on {dataset.name} "
          f"({len(dataset.x):,} x {shape}, {dataset.source}) {steps} of batch "
          f"{cfg.train.batch_size} (phases {phases}), device {trainer.device}")
    for note in trainer.family.training_notes():
        print(f"note: {note}")
    if eval_line:
        print(f"evaluation: {eval_line}")
    print(f"run folder: {run_dir}")
