"""A run's random streams draw apart: each offset from train.seed is its own, and the streams built from them
(the augmenter, CycleGAN's pools, the GAN's replay, the data orders, the training noise) start from
different seeds for the same train.seed."""

import re
from pathlib import Path
from types import SimpleNamespace

import torch

import ganforge
from ganforge import seeds
from ganforge.augment import Augmenter
from ganforge.config import load_config
from ganforge.data.spec import Batch, DataSpec
from ganforge.families import Step, build_family
from ganforge.runs import load_data
from ganforge.training.build import build_trainer
from ganforge.training.log import RunningStats
from ganforge.training.resident import make_resident

SEED = 3


def test_every_stream_has_an_offset_of_its_own_and_all_live_in_seeds():
    values = list(seeds.OFFSETS.values())
    assert len(set(values)) == len(values)
    # a rank's reseed (train.seed + r * stride) meets no other stream for any rank a machine would run
    assert not {r * seeds.RANK_STRIDE for r in range(1, 1025)} & set(values)
    src = Path(ganforge.__file__).parent
    elsewhere = [f"{p.relative_to(src)}: {m.group(0)}" for p in src.rglob("*.py") if p.name != "seeds.py"
                 for m in re.finditer(r"^\w*SEED_(OFFSET|STRIDE)\w*\s*=.*$", p.read_text(), re.MULTILINE)]
    assert elsewhere == []


def test_the_streams_of_one_seed_start_apart():
    """Two generators seeded alike draw alike: the augmenter, CycleGAN's pools, the GAN's replay, both domains'
    orders of unpaired data and the training noise each start from a seed of their own."""
    augmenter = Augmenter("diffaugment", seed=SEED)
    augmenter(torch.zeros(2, 3, 8, 8))  # its stream is made at first use, on the images' device
    spec = DataSpec((3, 28, 28), True, input_shape=(1, 28, 28), paired=False)
    cfg = load_config("cyclegan-mnist-colour", [f"train.seed={SEED}", "family.g_width=4", "family.d_width=4",
                                                "family.blocks=1"])
    cyclegan = build_family(cfg, spec)
    batch = Batch(x_A=torch.zeros(2, 1, 28, 28), x_B=torch.zeros(2, 3, 28, 28))
    step = Step(0, 0, 2, torch.Generator().manual_seed(0), torch.device("cpu"))
    cyclegan.loss("G", batch, step)
    cyclegan.loss("D", batch, step)  # makes the pools of past fakes
    gan = load_config("toy-ring", [f"train.seed={SEED}", "family.replay=8", "data.n_toy=100"])
    trainer = build_trainer(gan, load_data(gan))
    trainer.train_step(RunningStats())  # makes the replay buffer
    unpaired = SimpleNamespace(inputs=torch.zeros(10, 1, 2, 2), input_labels=None, x=torch.zeros(10, 3, 2, 2),
                               paired=False, captions=None)
    domains = make_resident(unpaired, None, torch.device("cpu"), seed=SEED).domains
    streams = {"augmenter": augmenter.generator, "pool A": cyclegan.pools["A"].generator,
               "pool B": cyclegan.pools["B"].generator, "replay": trainer.family.replay.generator,
               "noise": trainer.noise, "data": trainer.data.generator, "data A": domains["A"].generator,
               "data B": domains["B"].generator}
    starts = {name: g.initial_seed() for name, g in streams.items()}
    assert starts.pop("data") == starts["data A"]  # the first data order, whichever kind of data
    assert len(set(starts.values())) == len(starts), starts
