"""The training session: one for every family.

A family (ganforge.families) declares its networks, optimiser groups, phases and one loss per phase; the
trainer (training/trainer.py, built by training/build.py) runs the phases of each iteration in order and
backpropagates each loss into its group's optimiser (training/optim.py). This session owns the rest of a
run: checking the run folder, resume, the header, the loop with its logging, fixed-input samples,
evaluation, checkpoints and rollback, stopping on a signal, and the summary.
"""

from __future__ import annotations

import json
import math
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

from ganforge import checkpoint as ckpt
from ganforge import cpu_share, hardware, runs, seeds
from ganforge.config import Config
from ganforge.data import Dataset
from ganforge.errors import TrainingDiverged, UserError
from ganforge.families import Family
from ganforge.files import write_text_atomic
from ganforge.generator import SHOWCASE
from ganforge.runs import read_metrics
from ganforge.runtime import precision_name, resolve_device
from ganforge.training import distributed, transfer
from ganforge.training.build import build_trainer
from ganforge.training.distributed import SINGLE, Ranks
from ganforge.training.log import MetricsLog, NullLog, RunningStats
from ganforge.training.monitor import TrainingEval, affordable_extractor
from ganforge.training.run_lock import RunLock
from ganforge.training.samples import SampleWriter
from ganforge.training.trainer import Trainer
from ganforge.wording import plural

__all__ = ["StopRequest", "build_trainer", "fixed_inputs", "train"]


def fixed_inputs(cfg: Config, family: Family, n: int, device: torch.device) -> dict[str, torch.Tensor]:
    """The sampling network's inputs for the pictures drawn during training: the same at every step."""
    g = torch.Generator().manual_seed(cfg.train.seed + seeds.FIXED_NOISE)
    return {k: v.to(device) for k, v in family.noise(n, g).items()}


def train(cfg: Config, run_dir: Path, resume: bool = False, quiet: bool = False) -> dict:
    """Train (or continue) the run in `run_dir`; returns a summary dict (rank 0's; other ranks return {}).
    Launched by torchrun with several processes, each trains its share of every batch
    (see ganforge.training.distributed)."""
    ranks = distributed.ranks_from_env()
    with RunLock(Path(run_dir), enabled=ranks.main) as lock:  # rank 0 holds the run's one lock
        if not ranks.enabled:
            return _train(cfg, Path(run_dir), resume, quiet, SINGLE, None, lock)
        try:
            device = distributed.start(ranks, cfg.train.device)
            summary = _train(cfg, Path(run_dir), resume, quiet or not ranks.main, ranks, device, lock)
        except BaseException:
            distributed.stop(finished=False)
            raise
        distributed.stop()
        return summary


def _finished_summary(run_dir: Path, step: int) -> dict | None:
    """The summary a run wrote when it finished at `step`; None where it has none for that step (it stopped
    between its last checkpoint and its summary: resuming then writes the pictures and the summary)."""
    try:
        summary = json.loads((run_dir / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    return summary if summary.get("steps") == step and "stopped" not in summary else None


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


def _train(cfg: Config, run_dir: Path, resume: bool, quiet: bool, ranks: Ranks, device: torch.device | None,
           lock: RunLock) -> dict:
    main = ranks.main  # rank 0 writes every file; the others train their share and stay silent
    lock.check()  # another process training this folder is named before anything else is said
    if not resume:
        runs.check_new(run_dir)
    # everything a user can get wrong is checked before the run folder is touched
    cfg = runs.resolved(cfg)
    note = None
    if not resume:
        cfg, note = runs.fit_to_folder(cfg)
        if cfg.train.init:
            transfer.source(cfg)  # a folder that is no run of this family is named before the data is read
    threads, threads_note = cpu_share.threads_for(cfg.train.threads, torch.get_num_threads(), cpu_share.busy_at_start)
    if threads is not None:
        torch.set_num_threads(threads)
    dataset = runs.load_data(cfg)
    cfg = runs.settled_precision(cfg, run_dir, resume, device or resolve_device(cfg.train.device), dataset.kind)
    trainer = build_trainer(cfg, dataset, ranks, device)
    if resume and ckpt.list_checkpoints(run_dir):
        trainer.load(ckpt.latest_checkpoint(run_dir))
        if trainer.step > cfg.train.steps:  # refused before anything in the run folder changes
            raise UserError(f"{run_dir} is at step {trainer.step:,}, and the target train.steps is "
                            f"{cfg.train.steps:,}: nothing to train; give the new total, e.g. --steps "
                            f"{trainer.step + cfg.train.steps}")
        finished = _finished_summary(run_dir, trainer.step)
        if trainer.step == cfg.train.steps and finished:  # a restarted job that had already finished: done
            return {**finished, "complete": True}
    origin = transfer.recorded(run_dir) if resume and trainer.step else None
    if trainer.step == 0:
        trainer.family.progress = not quiet
        trainer.family.begin_training(dataset)  # e.g. SRGAN's G from an SRResNet run
        if cfg.train.init:  # after begin_training: every network is the source's at step 0
            origin = transfer.start_from(trainer)
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
    lock.acquire()  # from here on the folder is written
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
        runs.write_run_files(run_dir, cfg, dataset, origin)
        if dataset.skipped_files:
            write_text_atomic(run_dir / "skipped_files.txt", "".join(f"{line}\n" for line in dataset.skipped_files))
        if not (run_dir / "reals.png").exists():
            sampler.write_reals(run_dir, cfg.train.seed)
    if not quiet:
        init_note = transfer.describe(origin) if origin else None
        for line in [n for n in (note, threads_note, init_note) if n] + runs.data_notes(cfg, dataset):
            print(f"note: {line}")
        if dataset.skipped_files:
            print(f"note: skipped {plural(len(dataset.skipped_files), 'unreadable file')} of {dataset.source} (data.on_bad_file="
                  f"skip); their names and reasons: {run_dir / 'skipped_files.txt'}")
        _print_header(cfg, dataset, trainer, run_dir, resume, eval_line)

    log = (MetricsLog(run_dir, cfg.train.steps, trainer.step, trainer.images_seen, quiet, cfg.log.tensorboard)
           if main else NullLog())
    stats = RunningStats()
    started = time.perf_counter()
    start_images = trainer.images_seen
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
        # the images drawn, counted by the trainer: the family's batch, which progressive growing changes
        "images_per_s": round((trainer.images_seen - start_images) / max(elapsed, 1e-9), 1),
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
    trainer.roll_back(good)
    stats.read_and_reset()
    if trainer.ranks.main:
        runs.truncate_metrics(run_dir, trainer.step)
        sampler.truncate(trainer.step)
    log.rewind(trainer.step, trainer.images_seen)
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


def _batches(trainer: Trainer) -> str:
    """The family's batch now, and at the last step where it differs (progressive growing changes it)."""
    now, last = trainer.batch_size(), trainer.family.batch_size(trainer.cfg.train.steps - 1)
    return str(now) if now == last else f"{now} ({last} at the end)"


def _precision(trainer: Trainer) -> str:
    """', bf16 autocast (AVX512-BF16)': the arithmetic the step runs in, where it is not plain fp32."""
    if trainer.amp_dtype is None:
        return ""
    units = hardware.bf16_units() if trainer.device.type == "cpu" else trainer.device.type
    return f", {precision_name(trainer.amp_dtype)} autocast ({units})"


def _print_header(cfg: Config, dataset: Dataset, trainer: Trainer, run_dir: Path, resume: bool,
                  eval_line: str | None) -> None:
    sizes = ", ".join(f"{name} {sum(p.numel() for p in net.parameters()):,}"
                      for name, net in trainer.family.networks.items())
    shape = "x".join(str(s) for s in dataset.x.shape[1:])
    what = f"resuming at step {trainer.step:,}" if resume else "training"
    more = cfg.train.steps - trainer.step
    steps = (f"to step {cfg.train.steps:,} ({more:,} more)" if resume
             else f"for {plural(cfg.train.steps, 'step')}")
    phases = ", ".join(f"{p.name}" + (f" x{p.repeat}" if p.repeat > 1 else "") + (f" every {p.every}" if p.every > 1
                       else "") for p in trainer.phases)
    print(f"ganforge {what}: {trainer.family.describe()} (params: {sizes}) on {dataset.name} "
          f"({len(dataset.x):,} x {shape}, {dataset.source}) {steps} of batch "
          f"{_batches(trainer)} (phases {phases}), device {trainer.device}{_precision(trainer)}")
    for note in trainer.family.training_notes():
        print(f"note: {note}")
    if eval_line:
        print(f"evaluation: {eval_line}")
    print(f"run folder: {run_dir}")
