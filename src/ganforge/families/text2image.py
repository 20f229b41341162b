"""GAN-INT-CLS (Reed et al. 2016, "Generative Adversarial Text to Image Synthesis"): a GAN conditioned on a
caption, on fashion-captions (data/captions.py) or on an image folder with its own captions (captions.csv or a
.txt file per image: data/caption_files.py).

Before the GAN (begin_training), a word-level text encoder T and a small image encoder E are trained on the
matching objective (families/text_encoder.py): each image scores its true captions above the other captions
of the batch. T is then fixed; G and D read its embedding e through their own projections (nets/text.py).
Algorithm 1 of the paper, per iteration, with captions drawn per image:
  D  real image, right caption -> real;  fake, right caption -> fake;  real image, wrong caption -> fake
     weights 1, 0.5, 0.5 (the matching-aware discriminator, CLS); the wrong caption names another class
     (own captions: any caption that is not one of the image's)
  G  fools D on G(z, e) for the right captions, and (INT) on G(z, beta e1 + (1 - beta) e2) for
     interpolations of two captions' embeddings, where no real image exists
family.objective picks the pair of objectives (gan, hinge, lsgan, wgan); family.r1, family.label_smoothing,
family.d_steps and train.ema apply as in the gan family.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from ganforge import losses
from ganforge.data import captions as cap
from ganforge.errors import UserError
from ganforge.families.base import Batch, DataSpec, Family, Phase, Stats, Step, check_options
from ganforge.families.gan_options import check_objective
from ganforge.families.text_encoder import TextEncoders, pick_caption, requested_captions
from ganforge.generator import ExportModule, Generator, SamplesCodes, TakesText, eval_mode
from ganforge.nets.text import ImageEncoder, TextD, TextEncoder, TextG
from ganforge.options import choice, setting

GRID_COLUMNS = 8  # samples per caption in a picture


@dataclass
class Text2ImageOptions:
    text_dim: int = 64  # size of the text (and image) embedding
    proj_dim: int = 32  # G's and D's projection of the text embedding
    condition_bn: bool = True  # G's BatchNorm gains and biases also read the projected text
    mention: float = 0.75  # probability that a training caption names each attribute
    wrong: float = 0.5  # weight of D's real-image-with-wrong-caption term (the paper's CLS: 0.5)
    interpolate: float = 1.0  # weight of G's interpolated-embedding term (INT; 0: off)
    beta: float = 0.5  # INT: e = beta e1 + (1 - beta) e2
    pretrain_steps: int = 1500  # matching-objective steps of the text and image encoders before the GAN
    pretrain_batch: int = 256  # images per matching-objective step
    pretrain_lr: float = 2.0e-3
    temperature: float = 0.1  # of the matching objective's softmax over captions
    z_dim: int = setting(100, was="model.z_dim")  # size of the noise vector z G reads beside the text
    g_width: int = setting(64, was="model.g_width")  # base channel count of G (the 28x28 DCGAN's)
    d_width: int = setting(64, was="model.d_width")  # base channel count of D
    objective: str = choice("gan", "gan", "wgan", "hinge", "lsgan", was="loss.objective")  # D's and G's objectives
    g_loss: str = choice("nonsaturating", "nonsaturating", "minimax", was="loss.g")  # objective gan: G's loss
    # objective gan: one-sided, D's target for real data is 1 - this
    label_smoothing: float = setting(0.0, was="loss.label_smoothing")
    r1: float = setting(0.0, was="loss.r1")  # R1 weight gamma: |grad D|^2 / 2 on real images with their captions
    r1_every: int = setting(1, was="loss.r1_every")  # lazy R1: every this many D steps, weight multiplied by it
    d_steps: int = setting(1, was="train.d_steps")  # k: discriminator steps per generator step


class Text2ImageGenerator(Generator, SamplesCodes, TakesText):
    """G(z, e): samples for a caption's embedding e by the trained text encoder."""

    def embed(self, captions: list[str]) -> torch.Tensor:
        return self.family.embed(captions)

    def generate_for(self, captions: list[str], n: int = 1, seed: int = 0) -> torch.Tensor:
        return self.family.generate_for(captions, n, seed)

    def row_labels(self, inputs: dict[str, torch.Tensor], columns: int | None, **options) -> list[str] | None:
        """The caption of each row: those of --text / --text-file, else the caption whose embedding each row's
        first sample was drawn for (noise draws from the run's captions)."""
        texts = requested_captions(options.get("text"), options.get("text_file"))
        if texts is not None or columns is None:
            return texts
        table = self.family.table()
        e = inputs["e"][::columns].to(table.device)
        return [self.family.caption_texts()[i] for i in torch.cdist(e, table).argmin(1).tolist()]

    # -- what its evaluation reads (metrics/text.py): the run's caption table and encoders -------------------

    def caption_table(self) -> torch.Tensor:
        """T's embedding of every caption G draws from, on the generator's device: fashion-captions' grammar
        in data.captions.caption_rows order, or an image folder's captions in spec.captions order."""
        return self.family.table()

    @torch.no_grad()
    def match(self, images: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        """<E(image), e>, the matching objective's score, of each image (N, in [-1, 1]) with each of its
        candidate caption embeddings (N x K x D): N x K on the CPU."""
        with eval_mode(self.family.E):
            return (embeddings * self.family.E(images)[:, None, :]).sum(-1).cpu()

    def draw(self, embeddings: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One sample per caption embedding (N x D), its z drawn from `generator` (a CPU stream)."""
        z = torch.randn(len(embeddings), self.family.z_dim, generator=generator)
        return self({"z": z.to(self.device), "e": embeddings.to(self.device)})

    @property
    def thresholds(self) -> torch.Tensor:
        """fashion-captions: the per-class attribute thresholds measured on the training data (data.captions)."""
        return self.family.thresholds

    # -- export: z and the caption's token ids in (T inside), images out -----------------------------------

    def export_module(self, **options) -> nn.Module:
        f = self.family
        return ExportModule({"generator": self.network(), "text_encoder": f.T},
                            lambda inputs: f.decode({"z": inputs["z"], "e": f.T(inputs["tokens"])}), ("z", "tokens"))

    def export_inputs(self, n: int = 2, seed: int = 0, **options) -> dict[str, torch.Tensor]:
        """z, and the token ids of captions G draws from (at random)."""
        g = torch.Generator(device=self.device).manual_seed(seed)
        z = self.noise(n, g)["z"]
        rows = torch.randint(len(self.family.tokens), (n,), generator=g, device=g.device)
        return {"z": z, "tokens": self.family.tokens[rows.to(self.family.tokens.device)]}

    def export_checks(self, **options) -> list[dict[str, torch.Tensor]]:
        """Another batch size, and captions padded longer: the length is free."""
        longer = self.export_inputs(2, seed=2)
        longer["tokens"] = torch.nn.functional.pad(longer["tokens"], (0, 3))
        return [self.export_inputs(3, seed=1), longer]

    def export_description(self, **options) -> dict:
        meta = super().export_description()
        meta["inputs"][1].update(shape=["N", "L"], kind="token ids",
                                 about="each caption's words as ids in `text.vocabulary`, padded with 0 to the "
                                       "longest caption (see `text`)")
        meta["text"] = self.family.token_description()
        return meta


class Text2Image(TextEncoders, Family):
    GENERATOR = Text2ImageGenerator
    Options = Text2ImageOptions
    FIXED_SIZE = 28  # the 28x28 DCGAN's networks
    GROUPS = ("G", "D")
    LATENT = "gaussian"
    SAMPLE_OPTIONS: ClassVar[dict[str, str]] = {
        "text": "a caption: every sample is drawn for it, e.g. 'a dark sneaker'",
        "text_file": "a text file of captions, one a line: --n samples for each, one row per caption"}

    @classmethod
    def check_settings(cls, options: Text2ImageOptions, cfg) -> None:
        check_objective(options)

    def __init__(self, cfg, spec: DataSpec):
        super().__init__(cfg, spec)
        o: Text2ImageOptions = self.options
        self.own_captions = bool(spec.captions)  # an image folder's captions, else fashion-captions' grammar
        if not self.own_captions and cfg.data.name != "fashion-captions":
            raise UserError(f"the text2image family trains on captioned images, and {cfg.data.name!r} has no captions: "
                            "set data.name=fashion-captions, or give an image folder with captions.csv (file,caption) "
                            "or a .txt caption file beside each image")
        if tuple(spec.shape[1:]) != (28, 28):
            raise UserError(f"the text2image family builds 28x28 DCGAN networks, and these images are "
                            f"{spec.shape[1]}x{spec.shape[2]}: set data.resolution=28")
        if self.own_captions and len(spec.captions) < 2:
            raise UserError(f"{cfg.data.name}: every image has the same caption, so there is nothing to condition "
                            "on; give the images captions that tell them apart")
        if not 0 <= o.mention <= 1 or not 0 <= o.beta <= 1:
            raise UserError("config keys 'family.mention' and 'family.beta' must lie in [0, 1]")
        self.z_dim = o.z_dim
        if self.own_captions:
            self.vocab = [cap.PAD, *sorted({w for text in spec.captions for w in cap.words_of(text)})]
            table = cap.tokenize(list(spec.captions), self.vocab)
        else:
            self.vocab = cap.vocabulary()
            table = cap.caption_table(self.vocab)
        self.register_buffer("tokens", table, persistent=False)  # every caption G draws from, tokenised
        self.thresholds = torch.full((len(cap.CLASS_NOUNS), len(cap.ATTRIBUTES)), float("nan"))
        self.G = TextG(o, spec.shape, o.text_dim, o.proj_dim, o.condition_bn)
        self.D = TextD(o, spec.shape, o.text_dim, o.proj_dim)
        self.T = TextEncoder(len(self.vocab), o.text_dim)
        self.E = ImageEncoder(o.text_dim, channels=spec.shape[0])
        self.networks = {"G": self.G, "D": self.D, "T": self.T, "E": self.E}
        self.T.requires_grad_(False)  # trained before the GAN, fixed during it
        self.E.requires_grad_(False)
        self.d_objective, self.g_objective = losses.OBJECTIVES[o.objective]
        if o.objective == "gan":
            self.g_objective = losses.G_LOSSES[o.g_loss]
        self.d_steps = o.d_steps
        self.d_steps_done = 0
        self._table: torch.Tensor | None = None  # T's embedding of every caption of the grammar
        self._right: torch.Tensor | None = None  # the latest real batch's caption embeddings, for G's step

    # -- training ------------------------------------------------------------------------------------------

    def phases(self) -> list[Phase]:
        return [Phase("D", steps="D", repeat=self.d_steps), Phase("G", steps="G", freeze=("D",), data=False)]

    def draw_captions(self, y: torch.Tensor, attrs: torch.Tensor, generator: torch.Generator,
                      templates: int = cap.SEEN) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows of the caption table for images of classes y with attributes attrs: a right caption (each
        attribute named with probability `mention`) and a wrong one (another class, any attributes)."""
        n, device = len(y), y.device
        states = cap.draw_states(attrs, self.options.mention, generator)
        right = cap.caption_rows(y, states, randint(templates, n, generator, device))
        other = (y + randint(len(cap.CLASS_NOUNS) - 1, n, generator, device) + 1) % len(cap.CLASS_NOUNS)
        wrong_states = randint(cap.STATES, (n, len(cap.ATTRIBUTES)), generator, device)
        wrong = cap.caption_rows(other, wrong_states, randint(templates, n, generator, device))
        return right, wrong

    def draw_own_captions(self, own: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows of the caption table for images with caption indices `own` (N x K, -1 padded): one of each
        image's captions, and a wrong one (any caption that is not the image's)."""
        n, device, count = len(own), own.device, len(self.tokens)
        right = pick_caption(own, generator)

        def other() -> torch.Tensor:
            return (right + randint(count - 1, n, generator, device) + 1) % count

        wrong = other()
        for _ in range(3):  # another caption of the same image is not wrong: draw those again (a fixed number of
            # draws, so that a resumed run draws the same)
            wrong = torch.where((own == wrong[:, None]).any(1), other(), wrong)
        return right, wrong

    def loss(self, phase: str, batch: Batch, step: Step) -> tuple[torch.Tensor, Stats]:
        if phase == "D":
            return self.d_loss(batch, step)
        return self.g_loss(step)

    def d_loss(self, batch: Batch, step: Step) -> tuple[torch.Tensor, Stats]:
        c: Text2ImageOptions = self.options
        table = self.table()
        if self.own_captions:
            right, wrong = self.draw_own_captions(batch.caption, step.noise)
        else:
            right, wrong = self.draw_captions(batch.y, self.measure(batch.x, batch.y), step.noise)
        e_right, e_wrong = table[right], table[wrong]
        self._right = e_right
        with torch.no_grad():
            fake = self.G(step.randn(len(batch.x), self.z_dim), e_right)
        d = self.wrapped.get("D", self.D)
        lazy_r1 = c.r1 > 0 and self.d_steps_done % c.r1_every == 0
        real_x = batch.x.detach().requires_grad_(True) if lazy_r1 else batch.x
        real = d(real_x, e_right)
        fake_logits = self.D(fake, e_right)
        mismatched = self.D(batch.x, e_wrong)
        if c.objective == "gan":
            pair = lambda r, f: losses.d_loss_bce(r, f, c.label_smoothing)
        else:
            pair = self.d_objective
        # weights 1 (real, right), 0.5 (fake, right), 0.5 (real, wrong): each pair holds the real term once
        w = self.options.wrong
        loss = (1 - w) * pair(real, fake_logits) + w * pair(real, mismatched)
        stats = {"loss_d": loss.detach()}
        if lazy_r1:
            penalty = losses.r1_penalty(real, real_x)
            loss = loss + c.r1 * c.r1_every * penalty
            stats["r1"] = penalty.detach()
        self.d_steps_done += 1
        score = torch.sigmoid if c.objective == "gan" else (lambda t: t)
        stats.update(d_real=score(real.detach()).mean(), d_fake=score(fake_logits.detach()).mean(),
                     d_wrong=score(mismatched.detach()).mean())
        return loss, stats

    def g_loss(self, step: Step) -> tuple[torch.Tensor, Stats]:
        o: Text2ImageOptions = self.options
        e = self._right
        g = self.wrapped.get("G", self.G)
        loss = self.g_objective(self.D(g(step.randn(len(e), self.z_dim), e), e))
        stats = {"loss_g": loss.detach()}
        if o.interpolate:  # captions between two of the batch's: no real image, only D's verdict
            e_int = o.beta * e + (1 - o.beta) * e.roll(1, 0)
            interpolated = self.g_objective(self.D(g(step.randn(len(e), self.z_dim), e_int), e_int))
            loss = loss + o.interpolate * interpolated
            stats["loss_g_int"] = interpolated.detach()
        return loss, stats

    def state_tensors(self) -> dict[str, torch.Tensor]:
        return {"d_steps_done": torch.tensor([self.d_steps_done], dtype=torch.int64)}

    def load_state_tensors(self, state: dict[str, torch.Tensor]) -> None:
        self.d_steps_done = int(state["d_steps_done"].item()) if "d_steps_done" in state else 0

    def sampling_tensors(self) -> dict[str, torch.Tensor]:
        return {} if self.own_captions else {"thresholds": self.thresholds.cpu()}

    def load_sampling_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        if "thresholds" in tensors:
            self.thresholds = tensors["thresholds"]
        self._table = None  # T's weights were loaded

    def training_notes(self) -> list[str]:
        o: Text2ImageOptions = self.options
        if self.own_captions:
            return [(f"text2image: text and image encoders pre-trained for {o.pretrain_steps:,} steps of the matching "
                     f"objective on the folder's {len(self.tokens):,} distinct captions ({len(self.vocab) - 1:,} "
                     f"words); D's wrong-caption weight {o.wrong:g}, G's interpolation term {o.interpolate:g}")]
        return [(f"text2image: text and image encoders pre-trained for {o.pretrain_steps:,} steps of the matching "
                f"objective; D's wrong-caption weight {o.wrong:g}, G's interpolation term {o.interpolate:g}; "
                 f"{len(self.vocab) - 1} words, {cap.SEEN} training templates ({cap.HELD_OUT} held out)")]

    # -- sampling ------------------------------------------------------------------------------------------

    def noise(self, n: int, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """n samples' z and caption embeddings, one caption per row of GRID_COLUMNS: fashion-captions: classes
        in turn, every attribute named, drawn at random, the first template; own captions: captions drawn at
        random."""
        z = torch.randn(n, self.z_dim, generator=generator, device=generator.device)
        rows = torch.arange(n) // GRID_COLUMNS
        g = torch.Generator().manual_seed(int(torch.randint(2**62, (1,), generator=generator,
                                                             device=generator.device)))
        if self.own_captions:
            caption_rows = torch.randint(len(self.tokens), (int(rows.max()) + 1,), generator=g)[rows]
        else:
            states = torch.randint(1, cap.STATES, (int(rows.max()) + 1, len(cap.ATTRIBUTES)), generator=g)[rows]
            caption_rows = cap.caption_rows(rows % len(cap.CLASS_NOUNS), states, torch.zeros_like(rows))
        return {"z": z, "e": self.table()[caption_rows.to(self.tokens.device)].to(z.device)}

    def grid(self, inputs: dict[str, torch.Tensor], n: int | None = None) -> tuple[dict[str, torch.Tensor], int | None]:
        return inputs, GRID_COLUMNS

    def caption_texts(self) -> list[str]:
        """The text of each row of the caption table."""
        return list(self.spec.captions) if self.own_captions else cap.all_captions()

    def decode(self, inputs: dict[str, torch.Tensor], **options) -> torch.Tensor:
        check_options(self, options, allowed=())
        if "e" not in inputs:  # explore's arithmetic and attribute vectors hand over z alone
            raise UserError("the text2image family draws each sample from z and a caption, and this asks for z "
                            "alone; draw from captions with `ganforge sample RUN --text CAPTION`")
        return self.sampler()(inputs["z"], inputs["e"])

    def forward_check(self, device: torch.device) -> None:
        inputs = self.noise(2, torch.Generator(device=device).manual_seed(0))
        self.D(self.decode(inputs), inputs["e"])

    def sample_inputs(self, n: int | None, generator: torch.Generator, picture: bool = False,
                      truncation: float | None = None, **options) -> tuple[dict[str, torch.Tensor], int | None]:
        """Without text: a row per class (see noise). With `text` or `text_file`: n samples per caption
        (default GRID_COLUMNS), caption after caption, one row each in a picture."""
        check_options(self, options)
        texts = requested_captions(options.get("text"), options.get("text_file"))
        if texts is None:
            inputs = self.truncated(self.noise(n or 64, generator), truncation, generator)
            return inputs, (GRID_COLUMNS if picture else None)
        per = n or GRID_COLUMNS
        e = self.embed(texts).repeat_interleave(per, 0)
        z = torch.randn(len(e), self.z_dim, generator=generator, device=generator.device)
        return self.truncated({"z": z, "e": e.to(z.device)}, truncation, generator), per

    def generate_for(self, texts: list[str], n: int = 1, seed: int = 0) -> torch.Tensor:
        """n samples for each caption (caption after caption), images in [-1, 1], drawn in eval mode."""
        device = next(self.G.parameters()).device
        e = self.embed(texts).repeat_interleave(n, 0)
        z = torch.randn(len(e), self.z_dim, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad(), eval_mode(self):
            return self.decode({"z": z.to(device), "e": e.to(device)})


def randint(high: int, shape, generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Integers in [0, high) drawn from `generator` (on its device), moved to `device`."""
    shape = (shape,) if isinstance(shape, int) else shape
    return torch.randint(high, shape, generator=generator, device=generator.device).to(device)


__all__ = ["Text2Image", "Text2ImageOptions"]
