"""Fine-tuning: a new run whose networks start from a trained run's weights (train.init, `ganforge train
--init RUN`).

Every network takes the source's weights from its latest sound checkpoint (or the checkpoint folder given);
the optimisers, the family's training state (ADA's p, a replay buffer), the data order and the noise start
fresh, as in any new run: Adam's moments describe the source's loss surface, and its counters its schedule.
The networks must be the same ones: a run of the same family whose weights have the same names and shapes
(the first that differs is named). The new run's run.json records where it started.
"""

from __future__ import annotations

import json
from pathlib import Path

from ganforge import checkpoint as ckpt
from ganforge import pretrained, runs
from ganforge.config import Config
from ganforge.errors import UserError
from ganforge.training.trainer import Trainer

KEY = "config key 'train.init'"


def source(cfg: Config) -> tuple[Path, Path]:
    """(the source run folder, the checkpoint to start from) of train.init: a run folder (its latest sound
    checkpoint) or one of its checkpoint folders (checkpoints/best, checkpoints/step_N); a run of cfg's family.
    Checked before the data is read."""
    pretrained.not_shipped(cfg.train.init, f"{KEY} starts every network, its discriminator too, and")
    given = Path(cfg.train.init).expanduser()
    is_checkpoint = (given / "model.safetensors").is_file() and runs.is_run_dir(given.parent.parent)
    run = given.parent.parent if is_checkpoint else given
    if not runs.is_run_dir(run):
        what = "no such folder" if not given.exists() else "not a ganforge run (no config.yaml)"
        raise UserError(f"{KEY}: {given} is {what}; give a run folder `ganforge train` made, or one of its "
                        "checkpoints/ folders")
    family = runs.read_config(run).model.family
    if family != cfg.model.family:
        raise UserError(f"{KEY}: {run} is a run of the {family} family and this one of the {cfg.model.family} "
                        f"family; fine-tune from a run of the same family (model.family={family})")
    return run, given if is_checkpoint else ckpt.latest_checkpoint(run)


def start_from(trainer: Trainer) -> dict:
    """Load train.init's weights into every network of the trainer (step 0, before anything is written) and
    return run.json's record of it. Every shape is checked before any weight is copied."""
    run, path = source(trainer.cfg)
    model, _, _ = ckpt.load_checkpoint(path, model_only=True)
    family = trainer.family
    weights, _, averaged = ckpt.weights_parts(model, family.networks, family.SAMPLER)
    for name, net in family.networks.items():
        check_fits(net.state_dict(), weights[name], f"{name}.", run)
    sampler = family.networks[family.SAMPLER]
    if averaged and trainer.ema is not None:
        check_fits(sampler.state_dict(), averaged, ckpt.averaged_prefix(family.SAMPLER), run)
    for name, net in family.networks.items():
        net.load_state_dict(weights[name])
    if trainer.ema is not None:
        # The average starts at the source's average where it kept one: step 0's samples and evaluation are the
        # source's own. Its count restarts, so the warm-up (beta_t = (1 + t) / (10 + t)) follows the fine-tuned
        # G from the first steps, where the source's count would hold its old domain for ~1/(1 - beta) steps:
        # longer than a short fine-tune. The live G is the source's live G, the one its D was trained against.
        trainer.ema.shadow.load_state_dict(averaged or sampler.state_dict())
        trainer.ema.num_updates = 0
    return {"run": str(run.resolve()), "checkpoint": str(path.resolve().relative_to(run.resolve())),
            "step": ckpt.checkpoint_step(path), "averaged": bool(averaged) and trainer.ema is not None}


def check_fits(wanted: dict, given: dict, prefix: str, run: Path) -> None:
    """Refuse, naming the first weight that differs, a source whose tensors are not this network's."""
    for key, tensor in wanted.items():
        shape = _shape(tensor.shape)
        if key not in given:
            raise UserError(f"{KEY}: {run} has no weight {prefix}{key} ({shape} here); its networks are not this "
                            "run's: fine-tune with the source's network settings (family.* in its config.yaml)")
        if given[key].shape != tensor.shape:
            raise UserError(f"{KEY}: weight {prefix}{key} is {_shape(given[key].shape)} in {run} and {shape} "
                            "here; fine-tune with the source's network settings (family.* in its config.yaml)")
    extra = [k for k in given if k not in wanted]
    if extra:
        raise UserError(f"{KEY}: {run} has a weight {prefix}{extra[0]} that this run's networks lack; fine-tune "
                        "with the source's network settings (family.* in its config.yaml)")


def recorded(run_dir: Path) -> dict | None:
    """The record run.json keeps of where a fine-tuned run started (None: it started from random weights)."""
    try:
        return json.loads((Path(run_dir) / "run.json").read_text()).get("init")
    except (OSError, ValueError):
        return None


def describe(record: dict) -> str:
    """The header's line on where a fine-tuned run started."""
    ema = "; G's average from its average" if record.get("averaged") else ""
    return (f"every network starts from {record['run']} at step {record['step']:,} ({record['checkpoint']}){ema}; "
            "optimisers fresh")


def _shape(shape) -> str:
    return "x".join(map(str, shape)) or "a scalar"
