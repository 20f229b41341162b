"""The text side of the text2image family: its caption encoder T, the image encoder E, their pre-training on
the matching objective, and the captions a user hands over (`--text`, `--text-file`).

Before the GAN, T (word embeddings averaged, then an MLP: nets/text.TextEncoder) and E are trained so that each
image scores its true captions above the other captions of the batch: fashion-captions: same class, every
named attribute as measured; own captions: the image's own. T is then fixed, and G and D read its embedding.

A caption reaches T as token ids: its words (lower case; punctuation other than a hyphen inside a word
separates: data/captions.words_of), each replaced by its index in the run's vocabulary (index 0 is padding),
padded with 0 to the longest caption. T averages the embeddings of the non-zero ids, so padding never changes
a caption's embedding.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from tqdm import tqdm

from ganforge import seeds
from ganforge.data import captions as cap
from ganforge.errors import UserError
from ganforge.generator import eval_mode

WORD_PATTERN = r"[a-z0-9]+(?:-[a-z0-9]+)*"  # data/captions.words_of, on the lower-cased caption


class TextEncoders:
    """T and E of a text-to-image family, and what is made of them: the embedding of every caption G draws
    from, the embedding of a user's captions, the fashion-captions attributes of images.

    The family sets `T`, `E` and `G` (networks), `vocab` (the words, PAD first), `tokens` (every caption G
    draws from, tokenised: a buffer), `thresholds` (fashion-captions' per-class attribute thresholds) and
    `_table` (None), and has `options` with pretrain_steps, pretrain_batch, pretrain_lr, temperature and
    mention, and `progress` (Family's: whether pre-training shows a bar).
    """

    def begin_training(self, dataset) -> None:
        """fashion-captions: measure the training data's class thresholds. Then train T and E on the matching
        objective. A fine-tuned run (train.init) takes T and E from its source, trained already."""
        pretrain = not self.cfg.train.init
        if self.own_captions:
            if pretrain:
                self.pretrain(dataset.x, captions=dataset.captions)
            return
        values = cap.measure(dataset.x)
        self.thresholds = cap.class_thresholds(dataset.x, dataset.y, values=values)
        if pretrain:
            self.pretrain(dataset.x, dataset.y, attrs=cap.attributes(dataset.x, dataset.y, self.thresholds, values))

    def pretrain(self, x: torch.Tensor, y: torch.Tensor | None = None, progress: bool | None = None,
                 attrs: torch.Tensor | None = None, captions: torch.Tensor | None = None) -> list[float]:
        """The matching objective on uint8 images x: for each image, the softmax over the batch's captions puts
        its mass on the captions true of it, and for each caption on the images it is true of. fashion-captions:
        classes y (and `attrs`, the images' attributes when already measured); own captions: `captions`, each
        image's caption indices (N x K, -1 padded). Returns the loss per step. `progress`: a bar on stderr, as
        training's (None: unless the run is quiet, Family.progress)."""
        o = self.options
        device = next(self.G.parameters()).device
        g = torch.Generator().manual_seed(self.cfg.train.seed + seeds.PRETRAIN)
        if captions is None:
            attrs = cap.attributes(x, y, self.thresholds) if attrs is None else attrs

        def draw(pick: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            """Caption rows for the images at `pick`, and [image i, caption j]: caption j is true of image i."""
            if captions is not None:
                own = captions[pick]
                rows = pick_caption(own, g)
                return rows, (own[:, :, None] == rows[None, None, :]).any(1)
            yb, ab = y[pick], attrs[pick]
            states = cap.draw_states(ab, o.mention, g)
            rows = cap.caption_rows(yb, states, torch.randint(cap.SEEN, (len(pick),), generator=g))
            return rows, caption_true_of(yb, ab, yb, states)

        self.T.requires_grad_(True)
        self.E.requires_grad_(True)
        self.T.train()
        self.E.train()
        params = [*self.T.parameters(), *self.E.parameters()]
        opt = torch.optim.Adam(params, lr=o.pretrain_lr)
        history = []
        bar = tqdm(range(o.pretrain_steps), desc="text encoder pre-training", unit="step", dynamic_ncols=True,
                   file=sys.stderr, disable=not (self.progress if progress is None else progress))
        for i in bar:
            pick = torch.randint(len(x), (o.pretrain_batch,), generator=g)
            rows, true = draw(pick)
            images = x[pick].to(device).float().div(127.5).sub(1)
            logits = self.E(images) @ self.T(self.tokens[rows.to(device)]).T / o.temperature
            true = true.to(device)  # [image i, caption j]
            loss = 0.5 * (multi_positive_nll(logits, true) + multi_positive_nll(logits.T, true.T))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            history.append(float(loss.detach()))
            if i % 50 == 0:
                bar.set_postfix(loss=f"{history[-1]:.3f}")
        self.T.requires_grad_(False)
        self.E.requires_grad_(False)
        self._table = None
        return history

    def table(self) -> torch.Tensor:
        """T's embedding of every caption G draws from (T is fixed during the GAN: computed once)."""
        if self._table is None:
            # in fp32 whatever the caller's autocast: the cached table outlives the step that first asks for it
            with torch.no_grad(), eval_mode(self.T), torch.autocast(self.tokens.device.type, enabled=False):
                self._table = self.T(self.tokens)
        return self._table

    def tokenize(self, texts: list[str]) -> torch.Tensor:
        """The token ids (int64 N x L, 0-padded) of captions, on T's device; a UserError names a word outside
        the vocabulary."""
        return cap.tokenize(texts, self.vocab).to(self.tokens.device)

    def embed(self, texts: list[str]) -> torch.Tensor:
        """T's embeddings of captions (a UserError names a word outside the vocabulary)."""
        with torch.no_grad(), eval_mode(self.T):
            return self.T(self.tokenize(texts))

    def measure(self, images: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """0/1 attributes of images in [-1, 1] (N x 1 x 28 x 28) against the thresholds of their classes y."""
        return cap.attributes(cap.to_uint8(images), y, self.thresholds.to(images.device))

    def token_description(self) -> dict:
        """How to make T's token ids without ganforge: for an exported file's metadata."""
        return {"vocabulary": list(self.vocab), "padding_id": 0, "lowercase": True, "word_pattern": WORD_PATTERN,
                "length": "any: pad every caption of a batch with 0 to the longest; padding does not change the "
                          "embedding",
                "unknown_words": "not allowed: every word must be in the vocabulary",
                "about": "token id = the word's index in vocabulary, for each match of word_pattern in the "
                         "lower-cased caption, in order"}


def pick_caption(own: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One caption index per row of `own` (N x K, each row's indices first, then -1 padding), uniformly."""
    count = (own >= 0).sum(1)
    u = torch.rand(len(own), generator=generator, device=generator.device).to(own.device)
    k = (u * count).long().clamp(max=count - 1)
    return own.gather(1, k[:, None])[:, 0]


def caption_true_of(y: torch.Tensor, attrs: torch.Tensor, caption_y: torch.Tensor,
                    caption_states: torch.Tensor) -> torch.Tensor:
    """[i, j]: caption j (class caption_y[j], states caption_states[j]) is true of image i (class y[i], 0/1
    attributes attrs[i]): the same class, and each attribute it names as the image has it."""
    same_class = y[:, None] == caption_y[None, :]
    named = caption_states[None, :, :] > 0
    agrees = (caption_states[None, :, :] - 1) == attrs[:, None, :]
    return same_class & (agrees | ~named).all(-1)


def multi_positive_nll(logits: torch.Tensor, positive: torch.Tensor) -> torch.Tensor:
    """-log of the softmax mass on the positive columns, averaged over rows that have one."""
    total = torch.logsumexp(logits, 1)
    on_positive = torch.logsumexp(logits.masked_fill(~positive, float("-inf")), 1)
    has = positive.any(1)
    return (total - on_positive)[has].mean()


def requested_captions(text: str | None, text_file: str | None) -> list[str] | None:
    """The captions of `--text` or `--text-file` (one a line, blank lines skipped); None without either."""
    if text is not None and text_file is not None:
        raise UserError("give --text or --text-file, not both")
    if text is not None:
        return [text]
    if text_file is None:
        return None
    path = Path(text_file).expanduser()
    if not path.is_file():
        raise UserError(f"--text-file {path}: no such file; give a text file with one caption a line")
    lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not lines:
        raise UserError(f"--text-file {path}: holds no caption; write one caption a line")
    return lines


__all__ = ["TextEncoders", "caption_true_of", "multi_positive_nll", "pick_caption", "requested_captions"]
