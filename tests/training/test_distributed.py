"""Multi-process training through torchrun, on CPU with the gloo backend and 2 processes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from ganforge.checkpoint import latest_checkpoint, load_checkpoint
from ganforge.config import load_config
from ganforge.training.loop import train
from ganforge.training.resident import ResidentData

TOY = ["log.tensorboard=false", "data.n_toy=1000", "train.batch_size=32", "log.checkpoint_every=3",
       "log.every=1", "log.sample_every=1000"]


def torchrun(*args: str, procs: int = 2) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={procs}", "--standalone",
           "-m", "ganforge", "train", "--quiet", *args]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)


def said(done: subprocess.CompletedProcess) -> str:
    """What a failed torchrun printed: the ranks' own errors come first, torchrun's summary of them last."""
    return done.stderr if len(done.stderr) < 4000 else f"{done.stderr[:2500]}\n...\n{done.stderr[-1500:]}"


def sets(overrides):
    return [a for o in overrides for a in ("--set", o)]


def weights(run):
    model, _, meta = load_checkpoint(latest_checkpoint(run))
    return model, meta


def assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.allclose(a[key], b[key], atol=1e-5), key


def test_two_processes_train_the_weights_of_one_and_checkpoints_move_between_them(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    train(load_config("toy-ring", [*TOY, "train.steps=6"]), one, quiet=True)
    done = torchrun("--config", "toy-ring", "--steps", "6", "--out", str(two), *sets(TOY))
    assert done.returncode == 0, said(done)
    (a, meta_a), (b, meta_b) = weights(one), weights(two)
    assert meta_a["step"] == meta_b["step"] == 6
    assert_same_weights(a, b)
    # rank 0 alone wrote the log: one line per step, averaged over the ranks
    lines = [json.loads(x) for x in (two / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3, 4, 5, 6]
    # a 2-process checkpoint resumes in one process, and a 1-process one in two
    train(load_config(str(two / "config.yaml"), ["train.steps=9"]), two, resume=True, quiet=True)
    done = torchrun("--resume", str(one), "--steps", "9")
    assert done.returncode == 0, said(done)
    straight = tmp_path / "straight"
    train(load_config("toy-ring", [*TOY, "train.steps=9"]), straight, quiet=True)
    assert_same_weights(weights(straight)[0], weights(one)[0])
    assert_same_weights(weights(straight)[0], weights(two)[0])


def test_user_errors_under_torchrun_are_one_line(tmp_path):
    done = torchrun("--config", "toy-ring", "--steps", "2", "--out", str(tmp_path / "r"),
                    *sets([*TOY, "train.batch_size=33"]))
    assert done.returncode != 0
    assert "train.batch_size 33 does not split evenly over 2 processes" in done.stderr
    assert not (tmp_path / "r").exists()
    done = torchrun("--config", "toy-ring", "--steps", "2", *sets(TOY))
    assert done.returncode != 0 and "give the run folder with --out" in done.stderr


@pytest.mark.parametrize("world", [2, 4])
def test_ranks_share_each_global_batch_exactly(world):
    x = torch.arange(40, dtype=torch.float32)[:, None]
    whole = ResidentData(x, None, torch.device("cpu"), seed=3)
    parts = [ResidentData(x, None, torch.device("cpu"), seed=3) for _ in range(world)]
    for _ in range(5):  # across an epoch boundary (40 examples, batches of 16)
        batch = whole.next_batch(16).x
        shares = [p.next_batch(16, rank, world).x for rank, p in enumerate(parts)]
        assert torch.equal(torch.cat(shares), batch)


@pytest.mark.parametrize("family", ["stylegan", "cyclegan", "gan"])
def test_a_network_run_several_times_in_one_loss_gets_the_gradient_of_one_process(tmp_path, family):
    """StyleGAN's D step runs the wrapped D on reals and on fakes; CycleGAN's G step runs each wrapped G three
    times and the wrapped Ds, frozen there, once each. Two processes' gradients still equal one process's on
    the whole batch, in every phase: autograd sums a parameter's gradient over its uses before DDP's hook
    averages it. R1 (StyleGAN's R1 phase, the GAN's D step) goes through the plain D: through the wrapper,
    each rank kept its own gradient (the rule in families/base.py, Family.distribute)."""
    worker = str(Path(__file__).with_name("gradients_worker.py"))
    one = subprocess.run([sys.executable, worker, family, str(tmp_path / "one")], capture_output=True, text=True,
                         timeout=300, check=False)
    assert one.returncode == 0, said(one)
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone", worker,
                          family, str(tmp_path / "two")], capture_output=True, text=True, timeout=300, check=False)
    assert two.returncode == 0, said(two)
    reference = load_file(tmp_path / "one" / "rank0.safetensors")
    phases = {key.split(".")[0] for key in reference}
    assert phases == ({"D", "R1", "G"} if family == "stylegan" else {"G", "D"})
    for phase in phases:  # gradients to compare, not zeros
        assert any(v.abs().max() > 0 for k, v in reference.items() if k.startswith(f"{phase}.")), phase
    for rank in (0, 1):
        grads = load_file(tmp_path / "two" / f"rank{rank}.safetensors")
        assert reference.keys() <= grads.keys()
        for key in grads.keys() - reference.keys():  # no gradient in one process (R1 and a bias): zeros here
            assert not grads[key].any(), key
        for key in reference:
            if key.endswith("noise_strength"):  # StyleGAN's per-pixel noise: each rank draws its own, by design
                continue
            assert torch.allclose(grads[key], reference[key], rtol=1e-9, atol=1e-12), key
