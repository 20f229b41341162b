"""The random streams of a run: each is seeded with train.seed plus its own offset, so no two streams draw
the same numbers (two torch.Generators seeded alike draw alike, on one device and on another of its kind).

Every offset lives here, so a new stream gets one that no other has (tests/test_seeds.py checks it). Changing
one changes the runs that use its stream: TRAINING_NOISE, DATA and FIXED_NOISE are the default preset's.
"""

from __future__ import annotations

DATA = 0  # the data order (with the global RNG, seed_everything(train.seed): the initial weights)
TRAINING_NOISE = 1  # Step.noise: z and every draw a loss makes
DATA_B = 2  # the second domain's order in unpaired data (CycleGAN's B)
FIXED_NOISE = 1_000_003  # the inputs of the pictures drawn during training, the same at every step
EVAL_NOISE = 2_000_003  # the inputs scored by eval.every
REPLAY = 3_000_017  # the GAN's replay buffer (family.replay)
AUGMENT = 4_000_037  # the augmenter's draws (train.augment)
PRETRAIN = 5_000_011  # text2image's encoder pre-training
POOL_A, POOL_B = 6_000_011, 6_000_013  # CycleGAN's pools of past fakes, one per domain
RANK_STRIDE = 7919  # under torchrun, rank r > 0 reseeds its global RNG with train.seed + r * RANK_STRIDE

OFFSETS = {"DATA": DATA, "TRAINING_NOISE": TRAINING_NOISE, "DATA_B": DATA_B, "FIXED_NOISE": FIXED_NOISE,
           "EVAL_NOISE": EVAL_NOISE, "REPLAY": REPLAY, "AUGMENT": AUGMENT, "PRETRAIN": PRETRAIN,
           "POOL_A": POOL_A, "POOL_B": POOL_B}
