"""The gan family's settings (`family:`): its networks, objectives and stabilisers, and their checks. The
objective's keys and their checks serve text2image too.

Each option names the shared key it was before the families owned their settings (`was=`), so old configs and
run folders load with it in its new place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from torch import nn

from ganforge.errors import UserError
from ganforge.options import at_least, choice, setting


@dataclass
class GANOptions:
    # the networks: mlp (Goodfellow 2014), dense (Keras-style SELU), dcgan (Radford 2015, power-of-two
    # resolutions), dcgan28 (its 28x28 variant for (Fashion-)MNIST)
    arch: str = choice("dcgan28", "mlp", "dense", "dcgan", "dcgan28", was="model.arch")
    z_dim: int = setting(100, was="model.z_dim")  # size of the noise vector z that G turns into a sample
    g_width: int = setting(64, was="model.g_width")  # base channel (conv) or unit (dense) count of G
    d_width: int = setting(64, was="model.d_width")  # base channel (conv) or unit (dense) count of D
    # mlp: G's hidden layers
    g_hidden: list[int] = field(default_factory=lambda: [256, 512], metadata={"was": "model.g_hidden"})
    # mlp: D's hidden layers
    d_hidden: list[int] = field(default_factory=lambda: [512, 256], metadata={"was": "model.d_hidden"})
    # mlp: D's hidden units
    d_activation: str = choice("leaky_relu", "leaky_relu", "maxout", was="model.d_activation")
    d_dropout: float = setting(0.0, was="model.d_dropout")  # mlp: dropout after D's hidden layers
    d_input_dropout: float = setting(0.0, was="model.d_input_dropout")  # mlp: dropout on D's input
    # mlp: > 0 draws G's weights from U(-g_init, g_init) (pylearn2's irange); 0: PyTorch's default
    g_init: float = setting(0.0, was="model.g_init")
    d_init: float = setting(0.0, was="model.d_init")  # mlp: the same for D
    # > 0: cap the norm of each D unit's incoming weights after every D step (Goodfellow 2014)
    d_max_norm: float = setting(0.0, was="model.d_max_norm")
    # auto: tanh for images, linear for toy data
    g_output: str = choice("auto", "auto", "tanh", "linear", was="model.g_output")
    # spectral normalisation (Miyato et al. 2018)
    spectral_norm: str = choice("off", "off", "d", "g", "both", was="model.spectral_norm")
    # > 0: D's head also sees the minibatch std over groups of this size (Karras 2018)
    minibatch_std: int = setting(0, was="model.minibatch_std")
    # > 0: minibatch discrimination with this many kernels (Salimans et al. 2016)
    minibatch_disc: int = setting(0, was="model.minibatch_disc")
    # minibatch discrimination: each kernel's size
    minibatch_disc_dim: int = setting(5, was="model.minibatch_disc_dim")
    # PacGAN: D judges this many samples jointly (Lin et al. 2018); 1: off
    pack: int = setting(1, was="model.pack")
    # class or attribute conditioning: cgan (Mirza 2014: labels joined to G's z and D's input), acgan (Odena
    # 2017: D also classifies), projection (Miyato 2018: D's projection of the label, class-conditional BatchNorm in G)
    # biggan (Brock et al. 2019): projection D; G's BatchNorm gains and biases from a shared class embedding
    # joined to a chunk of z per layer (hierarchical z), the first chunk feeding G's input
    condition: str = choice("none", "none", "cgan", "acgan", "projection", "biggan", was="model.condition")
    shared_dim: int = setting(32, was="model.shared_dim")  # biggan: size of the shared class embedding
    # projection and biggan: how D reads the label; auto is the projection, acgan a classifier head instead
    # (ACGAN's class loss), projection+acgan both
    d_condition: str = choice("auto", "auto", "projection", "acgan", "projection+acgan", was="model.d_condition")
    # > 0: a self-attention block (SAGAN, BigGAN) in G and D at this resolution (dcgan, dcgan28)
    attention: int = setting(0, was="model.attention")
    # D's and G's objectives
    objective: str = choice("gan", "gan", "wgan", "hinge", "lsgan", was="loss.objective")
    g_loss: str = choice("nonsaturating", "nonsaturating", "minimax", was="loss.g")  # objective gan: G's loss
    # objective gan: one-sided, D's target for real data is 1 - this
    label_smoothing: float = setting(0.0, was="loss.label_smoothing")
    # > 0: clip D's weights to [-clip, clip] after each D step (WGAN: 0.01)
    clip: float = setting(0.0, was="loss.clip")
    # WGAN-GP weight lambda (10 in the paper): (|grad D| - 1)^2 on real-fake interpolates
    gp: float = setting(0.0, was="loss.gp")
    # R1 weight gamma: |grad D|^2 / 2 on real data (Mescheder et al. 2018)
    r1: float = setting(0.0, was="loss.r1")
    # lazy R1: every this many D steps, weight multiplied by it (StyleGAN2: 16)
    r1_every: int = setting(1, was="loss.r1_every")
    # DRAGAN weight lambda (10 in the paper): (|grad D| - 1)^2 near real data
    dragan: float = setting(0.0, was="loss.dragan")
    # BigGAN's orthogonal regularisation of G's weights (1e-4 in the paper): makes G amenable to truncation
    ortho: float = setting(0.0, was="loss.ortho")
    # top-k G updates (Sinha et al. 2020): G's loss uses only the fraction of its fakes that D rates most real;
    # the fraction starts at 1 and is multiplied by g_top_k_decay each epoch down to g_top_k (1: off)
    g_top_k: float = setting(1.0, was="loss.g_top_k")
    # top-k: the fraction's factor per epoch (see g_top_k)
    g_top_k_decay: float = setting(0.99, was="loss.g_top_k_decay")
    # condition acgan: weight of the class loss for D and G
    class_weight: float = setting(1.0, was="loss.class_weight")
    # acgan: weight of D's class loss on fakes (Odena 2017: 1; 0: D learns classes from real data only)
    class_fake_weight: float = setting(1.0, was="loss.class_fake_weight")
    d_steps: int = setting(1, was="train.d_steps")  # k: discriminator steps per generator step
    # with k = 1, the G step reuses the D step's G(z) (one G forward saved)
    reuse_fake: bool = setting(True, was="train.reuse_fake")
    # > 0: D also trains on old fakes from a buffer of this many samples (experience replay)
    replay: int = setting(0, was="train.replay")
    # fraction of each fake batch D sees from the replay buffer
    replay_mix: float = setting(0.5, was="train.replay_mix")
    # FreezeD (Mo et al. 2020), fine-tuning (train.init): D's first this many blocks (a weight layer with its
    # normalisation and activation) keep the source's weights; the later blocks and the head train
    freeze_d: int = 0


def check_objective(o) -> None:
    """The objective's keys, as the gan and text2image families read them: objective, g_loss,
    label_smoothing, r1, r1_every, d_steps, and the networks' z_dim, g_width and d_width."""
    at_least(o, 1, "z_dim", "g_width", "d_width", "d_steps", "r1_every")
    at_least(o, 0, "label_smoothing", "r1")
    if o.label_smoothing >= 0.5:
        raise UserError(f"config key 'family.label_smoothing' must be below 0.5, got {o.label_smoothing}")
    if o.label_smoothing and o.objective != "gan":
        raise UserError("config key 'family.label_smoothing' applies to family.objective=gan only")


def check_gan(o: GANOptions, batch_size: int) -> None:
    """Ranges, and the settings that must agree with each other or with train.batch_size."""
    check_objective(o)
    at_least(o, 1, "pack", "minibatch_disc_dim")
    at_least(o, 0, "clip", "gp", "dragan", "ortho", "minibatch_std", "minibatch_disc", "d_max_norm", "g_init",
             "d_init", "replay")
    for key in ("g_top_k", "g_top_k_decay"):
        if not 0 < getattr(o, key) <= 1:
            raise UserError(f"config key 'family.{key}' must be in (0, 1] (g_top_k 1 turns top-k off), "
                            f"got {getattr(o, key)}")
    for key in ("d_dropout", "d_input_dropout"):
        if not 0 <= getattr(o, key) < 1:
            raise UserError(f"config key 'family.{key}' must be in [0, 1), got {getattr(o, key)}")
    if not 0 <= o.replay_mix <= 1:
        raise UserError(f"config key 'family.replay_mix' must be in [0, 1], got {o.replay_mix}")
    if batch_size % o.pack:
        raise UserError(f"config key 'train.batch_size' ({batch_size}) must be a multiple of family.pack ({o.pack})")
    if o.minibatch_std and (batch_size // o.pack) % o.minibatch_std:
        raise UserError(f"config key 'family.minibatch_std' ({o.minibatch_std}) must divide the batch D sees "
                        f"(train.batch_size / family.pack = {batch_size // o.pack})")
    if o.replay and o.condition != "none":
        raise UserError("family.replay works with family.condition=none only (the buffer keeps no labels); "
                        "set family.replay=0")


def check_freeze_d(o: GANOptions, cfg) -> None:
    """family.freeze_d: frozen blocks hold a trained run's weights, which nothing else may change."""
    at_least(o, 0, "freeze_d")
    if not o.freeze_d:
        return
    if not cfg.train.init:
        raise UserError("config key 'family.freeze_d' keeps D's first blocks as a trained run left them; give that "
                        "run with train.init (ganforge train --init RUN), or set family.freeze_d=0")
    changes = [key for key in ("clip", "d_max_norm") if getattr(o, key)]
    if changes:
        raise UserError(f"config key 'family.{changes[0]}' rewrites D's weights after each step, frozen ones too; "
                        "set it to 0 or family.freeze_d=0")


RECTANGLE_ARCHS = ("dcgan", "mlp", "dense")  # data.aspect=keep: dcgan builds on a rectangular base, the others take any shape


def fit_images(o: GANOptions, width: int, height: int, aspect: str) -> tuple[int, dict] | None:
    """The 28x28 DCGAN on a folder of other sizes: small images resized to 28x28; larger ones the DCGAN at the
    largest power of two that fits, at most 64 (the DCGAN paper's size; larger is slow on a CPU). The side that
    fits is the short one for a crop, the long one for padding; rectangles (data.aspect=keep) take the DCGAN at
    their long side, at least 16."""
    if o.arch != "dcgan28" or (width, height) == (28, 28):
        return None
    if aspect == "keep" and width != height:
        return max(16, min(64, 2 ** int(math.log2(max(width, height))))), {"arch": "dcgan"}
    side = max(width, height) if aspect == "pad" else min(width, height)
    if side < 32:
        return 28, {"arch": "dcgan28"}
    return min(64, 2 ** int(math.log2(side))), {"arch": "dcgan"}


# a run's description names the objective (objective gan: G's loss)
OBJECTIVE_WORDS = {"wgan": "WGAN loss", "hinge": "hinge loss", "lsgan": "least-squares loss",
                   "nonsaturating": "non-saturating loss", "minimax": "minimax loss"}


def describe_gan(o: GANOptions) -> list[str]:
    """The architecture, then the conditioning, the objective and the stabilisers that are on."""
    words = [f"gan/{o.arch}"]
    if o.condition != "none":
        words.append(f"{o.condition} conditioning")
    words.append(OBJECTIVE_WORDS.get(o.objective) or OBJECTIVE_WORDS[o.g_loss])
    if o.d_steps > 1:
        words.append(f"{o.d_steps} D steps per G step")
    penalties = (("gradient penalty", o.gp), ("R1", o.r1), ("DRAGAN", o.dragan), ("weight clipping", o.clip),
                 ("label smoothing", o.label_smoothing), ("orthogonal regularisation", o.ortho))
    words += [f"{name} {value:g}" + (f" every {o.r1_every} D steps" if name == "R1" and o.r1_every > 1 else "")
              for name, value in penalties if value]
    if o.spectral_norm != "off":
        words.append("spectral norm in " + {"d": "D", "g": "G", "both": "G and D"}[o.spectral_norm])
    if o.pack > 1:
        words.append(f"PacGAN packing {o.pack}")
    if o.freeze_d:
        words.append(f"FreezeD on D's first {o.freeze_d} block(s)")
    return words


def penalty_with_batchnorm(options, d: nn.Module) -> str | None:
    """Gradient penalties are defined per sample; BatchNorm in D mixes the samples of a batch, so the gradient
    of one sample's output holds the others' too and the penalty no longer measures D's slope at a point."""
    used = [name for name in ("gp", "r1", "dragan") if getattr(options, name) > 0]
    if used and any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in d.modules()):
        return (f"family.{used[0]} penalises D's gradient per sample, but this D has BatchNorm, which mixes the "
                "samples of a batch, so the penalty is not exactly per sample (the WGAN-GP and R1 papers use a D "
                "without it: family.arch mlp or dense)")
    return None
