"""The trainer: everything the loop mutates, one iteration of it, and its state saved, restored and rolled back
as one."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import torch

from ganforge import checkpoint as ckpt
from ganforge import seeds
from ganforge.config import Config
from ganforge.errors import UserError
from ganforge.families import Family, Phase, Step
from ganforge.runtime import seed_everything
from ganforge.training.distributed import SINGLE, Ranks
from ganforge.training.ema import EMA
from ganforge.training.log import RunningStats
from ganforge.training.optim import frozen, lr_factor, set_learning_rates
from ganforge.training.resident import ResidentData, UnpairedData
from ganforge.version import __version__


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
        """The learning-rate multiplier at this step (optim.decay), before rollbacks lower it."""
        return lr_factor(self.cfg, self.step)

    def batch_size(self) -> int:
        """The global batch of this iteration: the family's (progressive growing changes it)."""
        return self.family.batch_size(self.step)

    def train_step(self, stats: RunningStats) -> None:
        """One iteration: the family's phases in order, each loss stepping its group's optimiser."""
        if self.cfg.optim.decay != "none" or self.lr_scale != 1.0:
            set_learning_rates(self.cfg, self.optimizers, self.lr_factor() * self.lr_scale)
        batch_size = self.batch_size()
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
            seed_everything(self.cfg.train.seed + self.ranks.rank * seeds.RANK_STRIDE + self.step)

    def roll_back(self, path: Path) -> None:
        """Divergence: the state of the checkpoint at `path`, one more rollback counted, and the learning rates
        lowered to train.rollback_lr ** rollbacks."""
        rollbacks = self.rollbacks + 1
        self.load(path)
        self.rollbacks, self.lr_scale = rollbacks, self.cfg.train.rollback_lr**rollbacks

    def weights_finite(self) -> bool:
        """Every weight and buffer finite: one host sync, done only before a checkpoint is written."""
        tensors = [t for t in self.model_tensors().values() if t.is_floating_point()]
        return bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all())
