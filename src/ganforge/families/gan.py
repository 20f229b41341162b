"""The GAN of Goodfellow et al. 2014, with any architecture (MLP, dense, DCGAN), any objective and the
stabilisers of the field.

Algorithm 1 of the paper, one training iteration:
  for k steps: sample m noise vectors z and m examples x;
               ascend  1/m sum [log D(x) + log(1 - D(G(z)))]          (d_loss, negated)
  sample m noise vectors z;
  descend 1/m sum log(1 - D(G(z)))   (family.g_loss = minimax)
  or ascend  1/m sum log D(G(z))     (family.g_loss = nonsaturating, the paper's practical advice)
Two phases: "D" (repeated k times, each on a fresh real batch) and "G" (D frozen). The loop runs them; this
file holds the objectives. family.objective swaps the pair for WGAN, hinge or
least squares; penalties (WGAN-GP, R1, DRAGAN), weight clipping, one-sided label smoothing, experience replay
and PacGAN packing are added here, so every architecture gets them.

With family.condition (cgan, acgan, projection, biggan) G and D also take the label (a class or binary attributes).
The settings are GANOptions (families/gan_options.py).
Fake samples get the labels of the real batch beside them, so D sees the same label distribution on both
sides and the penalties' interpolates keep one label; acgan adds the class loss to both players.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import nn

from ganforge import losses, seeds
from ganforge.errors import UserError
from ganforge.families.base import DEFAULT_SAMPLES, Batch, DataSpec, Family, Phase, Stats, Step, check_options
from ganforge.families.gan_options import (
    RECTANGLE_ARCHS,
    GANOptions,
    check_freeze_d,
    check_gan,
    describe_gan,
    fit_images,
    penalty_with_batchnorm,
)
from ganforge.generator import Generator, Projects, SamplesCodes, ScoresPoints, eval_mode
from ganforge.nets import build_networks
from ganforge.nets.conditional import check_condition, condition_vector, default_condition
from ganforge.nets.features import activations
from ganforge.nets.freeze import freeze_d_blocks
from ganforge.nets.stabilisers import pack
from ganforge.replay import ReplayBuffer

GRID_COLUMNS = 8  # conditional grids: samples per label


class GANGenerator(Generator, SamplesCodes, ScoresPoints, Projects):
    """The GAN's G: samples from z (and a condition); D's belief is drawn beside 1-D samples."""

    def critic_features(self, images: torch.Tensor, codes: dict[str, torch.Tensor]) -> list[torch.Tensor]:
        """D's activations before its head and its minibatch statistics; a packed D (PacGAN) sees each image
        packed with copies of itself."""
        family, m = self.family, self.family.pack_size
        x, c = images.repeat_interleave(m, 0), codes.get("c")
        c = None if c is None else c.repeat_interleave(m, 0)
        with eval_mode(family):
            return activations(family.D, lambda: family.critic(x, c))

    @torch.no_grad()
    def d_prob(self, x: torch.Tensor) -> torch.Tensor:
        with eval_mode(self.family):
            return self.family.d_prob(x)

    def row_labels(self, inputs: dict[str, torch.Tensor], columns: int | None, **options) -> list[str] | None:
        """A conditional grid's rows (a row per class, or per attribute combination): each row's class name, or
        the attributes it turns on; None where the rows are not one condition each."""
        if "c" not in inputs or not columns or len(inputs["c"]) % columns:
            return None
        c = inputs["c"].cpu()
        rows = c[::columns]
        if not torch.equal(c, rows.repeat_interleave(columns, 0)):
            return None
        spec = self.spec
        if spec.attr_names:
            return [", ".join(n for n, on in zip(spec.attr_names, row.tolist()) if on > 0.5) or "none"
                    for row in rows]
        names = spec.class_names or tuple(str(k) for k in range(spec.n_classes))
        return [names[int(k)] for k in rows.argmax(1)]

    def for_labels(self, inputs: dict[str, torch.Tensor], labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """`inputs` (as `noise` draws them) with sample i drawn for labels[i]: a class index, or a row of 0/1
        attributes (a conditional run's evaluation draws its samples for the reference images' labels)."""
        return {**inputs, "c": condition_vector(labels, self.family.n_cond).to(inputs["z"].device)}


class GAN(Family):
    Options = GANOptions
    GROUPS = ("G", "D")
    GENERATOR = GANGenerator
    AUGMENTS_IMAGES = True
    RECTANGLES_HINT = "family.arch=dcgan builds them (a 4x3 base doubled to 64x48); or "
    LATENT = "gaussian"
    SAMPLE_OPTIONS: ClassVar[dict[str, str]] = {
        "class": "conditional runs: every sample of this class (an index or a class name)",
        "attr": "attribute-conditioned runs: name=0|1,... (others drawn as often as in the data)"}

    @classmethod
    def check_settings(cls, options: GANOptions, cfg) -> None:
        check_gan(options, cfg.train.batch_size)
        check_freeze_d(options, cfg)

    @classmethod
    def image_size(cls, options: GANOptions) -> int | None:
        return 28 if options.arch == "dcgan28" else None  # the other networks take the data's size

    @classmethod
    def fit_images(cls, options: GANOptions, width: int, height: int, aspect: str = "crop") -> tuple[int, dict] | None:
        return fit_images(options, width, height, aspect)

    @classmethod
    def builds_rectangles(cls, options: GANOptions, cfg) -> bool:
        # dcgan28 without data.resolution becomes the dcgan of an image folder's size (fit_images)
        return options.arch in RECTANGLE_ARCHS or cfg.data.resolution is None

    def __init__(self, cfg, spec: DataSpec):
        super().__init__(cfg, spec)
        o: GANOptions = self.options
        self.condition, self.n_cond, self.attributes = o.condition, spec.n_cond, bool(spec.attr_names)
        self.conditional = self.condition != "none"
        if self.conditional:
            check_condition(o, spec.n_cond, cfg.data.name)
        self.z_dim = o.z_dim
        self.G, self.D = build_networks(o, spec.shape, spec.is_image, spec.n_cond if self.conditional else 0)
        self.networks = {"G": self.G, "D": self.D}
        freeze_d_blocks(self.D, o.freeze_d)  # FreezeD: no gradient, so no optimiser step, for D's first blocks
        self.d_steps = o.d_steps
        d_objective, g_objective = losses.OBJECTIVES[o.objective]
        self.d_objective = d_objective
        self.g_objective = losses.G_LOSSES[o.g_loss] if o.objective == "gan" else g_objective
        self.probabilities = o.objective == "gan"  # D's output is a logit of P(real)
        self.pack_size = o.pack
        self.d_max_norm = o.d_max_norm
        self.replay_size, self.replay_mix = o.replay, o.replay_mix
        self.replay_seed = cfg.train.seed + seeds.REPLAY
        self.replay: ReplayBuffer | None = None  # made on first use, on the data's device
        self.d_steps_done = 0  # for lazy R1 and top-k's epochs
        self.top_k_floor, self.top_k_decay = o.g_top_k, o.g_top_k_decay
        self.images_per_d_step, self.n_examples = cfg.train.batch_size, spec.n_examples
        self.reuse_fake = o.reuse_fake and o.d_steps == 1  # the loop's rule: G's step reuses G(z)
        self._last: tuple[torch.Tensor, torch.Tensor] | None = None  # (z, G(z)) of the latest D step
        self._labels: torch.Tensor | None = None  # condition vectors of the latest real batch

    @classmethod
    def describe_settings(cls, o: GANOptions, cfg) -> list[str]:
        return describe_gan(o)

    def phases(self) -> list[Phase]:
        """k D steps, each on a fresh real batch, then one G step with D's weights frozen (it needs D's input
        gradient only)."""
        return [Phase("D", steps="D", repeat=self.d_steps), Phase("G", steps="G", freeze=("D",), data=False)]

    def loss(self, phase: str, batch: Batch, step: Step) -> tuple[torch.Tensor, Stats]:
        if phase == "D":
            return self.d_loss(batch, step.randn(step.batch_size, self.z_dim))
        # with k = 1 and family.reuse_fake, G's step reuses the D step's z and G(z): one G forward saved
        z = self._last[0] if self.reuse_fake and self._last is not None else step.randn(step.batch_size, self.z_dim)
        return self.g_loss(z)

    def critic_and_classes(self, x: torch.Tensor, labels: torch.Tensor | None,
                           sync: bool = False) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's logits for a batch (packed in groups of family.pack first: PacGAN), and with acgan its class logits.
        `sync`: through the DistributedDataParallel wrapper, once per D step (see training/distributed.py)."""
        d = self.wrapped.get("D", self.D) if sync else self.D
        if self.augmenter is not None and self.training:  # real and fake alike, in D's step and in G's
            x = self.augmenter(x)
        if self.conditional:
            return d(x, labels)
        return d(pack(x, self.pack_size) if self.pack_size > 1 else x), None

    def critic(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.critic_and_classes(x, labels)[0]

    def fake(self, z: torch.Tensor, labels: torch.Tensor | None, sync: bool = False) -> torch.Tensor:
        g = self.wrapped.get("G", self.G) if sync else self.G
        return g(z, labels) if self.conditional else g(z)

    def d_loss(self, real: Batch, z: torch.Tensor) -> tuple[torch.Tensor, Stats]:
        c = self.options
        labels = None
        if self.conditional:
            if real.y is None:
                raise UserError("family.condition needs labelled data, but the batch has no labels")
            labels = condition_vector(real.y, self.n_cond)
            self._labels = labels
        if self.reuse_fake:  # kept with its graph: G's step reuses it for the same z
            fake = self.fake(z, labels, sync=True)
        else:  # G's step draws its own: no graph needed here
            with torch.no_grad():
                fake = self.fake(z, labels)
        self._last = (z, fake)
        seen_fake = fake.detach()
        if self.replay_size:
            if self.replay is None:
                self.replay = ReplayBuffer(self.replay_size, self.replay_mix, self.replay_seed, fake.device)
            seen_fake = self.replay.mix_in(seen_fake)
            self.replay.push(fake.detach())
        lazy_r1 = c.r1 > 0 and self.d_steps_done % c.r1_every == 0
        real_x = real.x.detach().requires_grad_(True) if lazy_r1 else real.x
        # R1 differentiates D(real) with autograd.grad, which DDP's wrapper does not support: on those steps the
        # reals go through the plain D and the fakes through the wrapper, which all-reduces D's gradient
        real_logits, real_classes = self.critic_and_classes(real_x, labels, sync=not lazy_r1)
        if self.augmenter is not None:
            self.augmenter.observe(real_logits)
        fake_logits, fake_classes = self.critic_and_classes(seen_fake, labels, sync=lazy_r1)
        if self.probabilities:
            loss = losses.d_loss_bce(real_logits, fake_logits, c.label_smoothing)
        else:
            loss = self.d_objective(real_logits, fake_logits)
        stats = {"loss_d": loss.detach(), **(self.augmenter.stats() if self.augmenter is not None else {})}
        if real_classes is not None:  # acgan: D also names the class of real and fake samples
            class_loss = (losses.class_loss(real_classes, labels, self.attributes)
                          + c.class_fake_weight * losses.class_loss(fake_classes, labels, self.attributes))
            loss = loss + c.class_weight * class_loss
            stats["loss_class_d"] = class_loss.detach()
            stats["class_acc_real"] = self._accuracy(real_classes.detach(), labels)
        critic = self.critic if labels is None else lambda x: self.critic(x, labels)
        if c.gp:
            penalty = losses.gradient_penalty(critic, real.x, fake.detach())
            loss = loss + c.gp * penalty
            stats["gp"] = penalty.detach()
        if lazy_r1:
            penalty = losses.r1_penalty(real_logits, real_x)
            loss = loss + c.r1 * c.r1_every * penalty  # lazy regularisation: scaled by the interval
            stats["r1"] = penalty.detach()
        if c.dragan:
            penalty = losses.dragan_penalty(critic, real.x)
            loss = loss + c.dragan * penalty
            stats["dragan"] = penalty.detach()
        self.d_steps_done += 1
        if self.probabilities:
            stats["d_real"] = torch.sigmoid(real_logits.detach()).mean()  # D(x)
            stats["d_fake"] = torch.sigmoid(fake_logits.detach()).mean()  # D(G(z))
        else:  # a critic's raw outputs; their gap estimates the distance between the distributions
            stats["critic_real"] = real_logits.detach().mean()
            stats["critic_fake"] = fake_logits.detach().mean()
        return loss, stats

    def g_loss(self, z: torch.Tensor) -> tuple[torch.Tensor, Stats]:
        labels = self._labels  # G draws for the labels of the latest real batch
        reuse = self._last is not None and self._last[0] is z
        fake = self._last[1] if reuse else self.fake(z, labels, sync=True)
        self._last = None
        logits, classes = self.critic_and_classes(fake, labels)
        fraction = self.top_k_fraction()
        if fraction < 1:  # top-k: the fakes D finds least real give G no gradient
            logits = logits.topk(max(1, round(fraction * len(logits))), dim=0).values
        loss = self.g_objective(logits)
        stats = {"loss_g": loss.detach()}
        if self.options.ortho:  # BigGAN: G amenable to truncation
            penalty = losses.orthogonal_penalty(self.G)
            loss = loss + self.options.ortho * penalty
            stats["ortho"] = penalty.detach()
        if classes is not None:  # acgan: G also wants its samples to be classified as their label
            class_loss = losses.class_loss(classes, labels, self.attributes)
            loss = loss + self.options.class_weight * class_loss
            stats["loss_class_g"] = class_loss.detach()
        return loss, stats

    def top_k_fraction(self) -> float:
        """The share of G's fakes (of its packs, with PacGAN) that its loss uses: max(g_top_k, decay ** e) after
        e complete epochs of real data, counted by D's batches."""
        if self.top_k_floor >= 1 or not self.n_examples:
            return 1.0
        epochs = self.d_steps_done * self.images_per_d_step // self.n_examples
        return max(self.top_k_floor, self.top_k_decay ** epochs)

    def _accuracy(self, class_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.attributes:
            return ((class_logits > 0).float() == labels).float().mean()
        return (class_logits.argmax(1) == labels.argmax(1)).float().mean()

    @torch.no_grad()
    def after_step(self, name: str) -> None:
        if name != "D":
            return
        # the paper's D kept each unit's incoming weight vector within a maximum norm, which lets plain SGD with
        # a large learning rate train without the weights blowing up
        if self.d_max_norm > 0:
            for m in self.D.modules():
                if isinstance(m, nn.Linear):
                    m.weight.copy_(torch.renorm(m.weight, 2, 0, self.d_max_norm))
        if self.options.clip > 0:
            losses.clip_weights_(self.D, self.options.clip)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        state = {"d_steps_done": torch.tensor([self.d_steps_done], dtype=torch.int64)}
        if self.augmenter is not None:
            state.update({f"augment.{k}": v for k, v in self.augmenter.state_dict().items()})
        if self.replay is not None:
            state.update({f"replay.{k}": v for k, v in self.replay.state_dict().items()})
        return state

    def load_state_tensors(self, state: dict[str, torch.Tensor]) -> None:
        self.d_steps_done = int(state["d_steps_done"].item()) if "d_steps_done" in state else 0
        augment = {k.removeprefix("augment."): v for k, v in state.items() if k.startswith("augment.")}
        if augment and self.augmenter is not None:
            self.augmenter.load_state_dict(augment)
        saved = {k.removeprefix("replay."): v for k, v in state.items() if k.startswith("replay.")}
        if saved and self.replay_size:
            device = next(self.G.parameters()).device
            self.replay = ReplayBuffer(self.replay_size, self.replay_mix, self.replay_seed, device)
            self.replay.load_state_dict(saved)

    # -- sampling ------------------------------------------------------------------------------------------

    def noise(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        z = torch.randn(n, self.z_dim, generator=generator, device=generator.device)
        if not self.conditional:
            return {"z": z}
        return {"z": z, "c": default_condition(n, self.n_cond, self.attributes, z.device)}  # every label in turn

    def decode(self, inputs: dict[str, torch.Tensor], **options) -> torch.Tensor:
        check_options(self, options, allowed=())  # class and attr act on the inputs (sample_inputs)
        g = self.sampler()
        return g(inputs["z"], inputs["c"]) if self.conditional else g(inputs["z"])

    def generate(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        """G(z) (G(z, c) for a conditional G; c defaults to every label in turn) from the sampling network."""
        if self.conditional and c is None:
            c = default_condition(len(z), self.n_cond, self.attributes, z.device)
        return self.decode({"z": z, "c": c} if self.conditional else {"z": z})

    def grid(self, inputs: dict[str, torch.Tensor], n: int | None = None) -> tuple[dict[str, torch.Tensor], int | None]:
        """Image runs with class or attribute labels: one row per label (every class, or the combinations of
        the first three attributes), the same z down each column: n samples in all, or GRID_COLUMNS per row."""
        if not (self.conditional and self.spec.is_image):
            return inputs, None
        rows = default_condition(self.grid_rows(), self.n_cond, self.attributes, inputs["z"].device)
        columns = min(-(-n // len(rows)) if n else GRID_COLUMNS, len(inputs["z"]))
        z = inputs["z"][:columns].repeat(len(rows), 1)
        return {"z": z, "c": rows.repeat_interleave(columns, 0)}, columns

    def grid_rows(self) -> int:
        return self.n_cond if not self.attributes else 2 ** min(3, self.n_cond)

    def sample_inputs(self, n: int | None, generator: torch.Generator, picture: bool = False,
                      truncation: float | None = None, **options) -> tuple[dict[str, torch.Tensor], int | None]:
        check_options(self, options)
        c = self.requested_condition(n or DEFAULT_SAMPLES, generator, options.get("class"), options.get("attr"))
        if c is None:
            return super().sample_inputs(n, generator, picture, truncation)
        z = torch.randn(len(c), self.z_dim, generator=generator, device=generator.device)
        return self.truncated({"z": z, "c": c.to(z.device)}, truncation, generator), None

    def requested_condition(self, n: int, generator: torch.Generator, class_name: str | None = None,
                            attrs: str | None = None) -> torch.Tensor | None:
        """The condition vectors of `ganforge sample --class K` (an index or a class name) or
        `--attr name=1,name=0`; attributes not named are drawn with their frequency in the training data."""
        if class_name is None and attrs is None:
            return None
        flag = "--class" if class_name is not None else "--attr"
        if not self.conditional:
            raise UserError(f"{flag} needs a conditional run (family.condition cgan, acgan, projection or biggan); "
                            f"this run was trained with family.condition=none")
        if class_name is not None and attrs is not None:
            raise UserError("give --class or --attr, not both")
        names = list(self.spec.attr_names)
        if class_name is not None:
            if names:
                raise UserError(f"this run is conditioned on attributes ({', '.join(names[:8])}); use --attr name=1,...")
            classes = list(self.spec.class_names) or [str(i) for i in range(self.n_cond)]
            if class_name in classes:
                k = classes.index(class_name)
            elif class_name.isdigit() and int(class_name) < self.n_cond:
                k = int(class_name)
            else:
                raise UserError(f"--class {class_name}: not a class of this run; classes: "
                                f"{', '.join(f'{i} ({c})' for i, c in enumerate(classes))}")
            c = torch.zeros(n, self.n_cond)
            c[:, k] = 1
            return c
        if not names:
            raise UserError("this run is conditioned on classes, not attributes; use --class K")
        means = torch.tensor(self.spec.attr_means or [0.5] * len(names))
        draws = torch.rand(n, len(names), generator=torch.Generator().manual_seed(
            int(torch.randint(2**62, (1,), generator=generator, device=generator.device))))
        c = (draws < means).float()
        for item in attrs.split(","):
            key, sep, value = (t.strip() for t in item.partition("="))
            if not sep or value not in ("0", "1"):
                raise UserError(f"--attr {attrs}: write name=0 or name=1, separated by commas (got '{item.strip()}')")
            if key not in names:
                shown = ", ".join(names[:40]) + (" ..." if len(names) > 40 else "")
                raise UserError(f"--attr: unknown attribute '{key}'; this run's attributes: {shown}")
            c[:, names.index(key)] = float(value)
        return c

    def training_notes(self) -> list[str]:
        note = penalty_with_batchnorm(self.options, self.D)
        return [note] if note else []

    def forward_check(self, device: torch.device) -> None:
        """A trial forward of G and D on two samples (compilation is checked with it)."""
        inputs = self.noise(2, torch.Generator(device=device).manual_seed(0))
        self.critic(self.decode(inputs), inputs.get("c"))

    def d_prob(self, x: torch.Tensor) -> torch.Tensor:
        x = x.repeat_interleave(self.pack_size, 0)  # a pack of m copies of each point
        if self.conditional:  # D(x) averaged over the labels, each equally likely
            eye = torch.eye(self.n_cond, device=x.device)
            outs = [self.critic(x, eye[k].expand(len(x), -1)) for k in range(self.n_cond)]
            out = torch.stack([torch.sigmoid(o) if self.probabilities else o for o in outs]).mean(0)
            return out
        out = self.critic(x)
        return torch.sigmoid(out) if self.probabilities else out
