"""fashion-captions: Fashion-MNIST with captions written from templates, for text-to-image training offline.

A caption names an image's class (a natural noun) and up to three attributes measured from its pixels. Each
attribute has a measuring rule below, a plain function of uint8 images, binarised against its class's median
over the training split, so within every class each attribute splits the images about 50/50 and is
learnable per class. The thresholds (10 classes x 3 attributes) are kept with a run, because evaluation
measures generated images with the same rules.

Captions come from paraphrase templates; the last HELD_OUT of them never appear in training and use only
words of the training templates, so a word-level encoder has seen every word of them. In training, each
attribute is named with probability `mention` (a caption may name none: "a photo of a sneaker").

Every caption of the grammar is enumerated once (class x attribute states x template, 10 x 27 x 8) and
tokenised into a table, so a batch's captions are rows of it, drawn by index on the training device.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn.functional as F

from ganforge.errors import UserError

CLASS_NOUNS = ("t-shirt", "trousers", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
               "ankle boot")
# (attribute, word when set, word when not set), in the order captions name them
ATTRIBUTES = (("darkness", "dark", "light"), ("size", "large", "small"), ("pattern", "patterned", "plain"))
ITEM_LEVEL = 32  # a pixel brighter than this belongs to the item (Fashion-MNIST's background is 0)
STATES = 3  # per attribute: 0 not named, 1 named as not set (light, small, plain), 2 named as set
COMBOS = STATES ** len(ATTRIBUTES)  # 27 attribute states per class
# {np}: article, adjectives, noun ("a dark, large sneaker"); {np0}: article and noun; {noun}; {adj}: "dark and
# large". A part in [brackets] is left out when the caption names no attribute.
TEMPLATES = (
    "{np}",
    "a photo of {np}",
    "this is {np}",
    "{np0}[ that is {adj}]",
    "the {noun}[ is {adj}]",
    "a photo of {np0}[ that looks {adj}]",
    # held out of training: words of the templates above only
    "this {noun}[ looks {adj}]",
    "the photo is of {np}",
)
HELD_OUT = 2
SEEN = len(TEMPLATES) - HELD_OUT
PAD = "<pad>"


# -- measuring rules ---------------------------------------------------------------------------------------


def item_mask(x: torch.Tensor) -> torch.Tensor:
    """The item's pixels of uint8 images N x 1 x H x W: those brighter than ITEM_LEVEL."""
    return x > ITEM_LEVEL


def darkness(x: torch.Tensor) -> torch.Tensor:
    """255 minus the mean intensity of the item's pixels (N,): higher is darker."""
    mask = item_mask(x).flatten(1).float()
    total = (x.flatten(1).float() * mask).sum(1)
    return 255.0 - total / mask.sum(1).clamp(min=1)


def size(x: torch.Tensor) -> torch.Tensor:
    """The number of the item's pixels (N,)."""
    return item_mask(x).flatten(1).float().sum(1)


def pattern(x: torch.Tensor) -> torch.Tensor:
    """The mean absolute Laplacian (3x3, 4-neighbour, zero outside the image) over the item's interior (N,):
    texture and print inside the outline; the outline's own edge is left out by eroding the mask by one pixel
    (outside the image counts as item, so an item cut by the border keeps its interior there)."""
    h, w = x.shape[-2:]
    xf = F.pad(x.float(), (1, 1, 1, 1))  # by slices: a 1-channel conv2d is many times slower on a CPU
    lap = (xf[..., :-2, 1:-1] + xf[..., 2:, 1:-1] + xf[..., 1:-1, :-2] + xf[..., 1:-1, 2:]
           - 4 * xf[..., 1:-1, 1:-1]).abs()
    mask = F.pad(item_mask(x), (1, 1, 1, 1), value=True)
    interior = torch.ones_like(mask[..., 1:-1, 1:-1])
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            interior &= mask[..., dy:dy + h, dx:dx + w]
    interior = interior.float()
    return (lap * interior).flatten(1).sum(1) / interior.flatten(1).sum(1).clamp(min=1)


RULES = (darkness, size, pattern)


def measure(x: torch.Tensor) -> torch.Tensor:
    """Every attribute's measurement of uint8 images N x 1 x H x W: float N x 3."""
    if x.dtype != torch.uint8:
        raise TypeError(f"measure reads uint8 images, got {x.dtype}")
    return torch.stack([rule(x) for rule in RULES], 1)


def class_thresholds(x: torch.Tensor, y: torch.Tensor, n_classes: int = len(CLASS_NOUNS),
                     values: torch.Tensor | None = None) -> torch.Tensor:
    """Each class's median of each measurement over uint8 images x with classes y: float n_classes x 3
    (`values`: measure(x), when already at hand)."""
    values = measure(x) if values is None else values
    return torch.stack([values[y == k].median(0).values for k in range(n_classes)])


def attributes(x: torch.Tensor, y: torch.Tensor, thresholds: torch.Tensor,
               values: torch.Tensor | None = None) -> torch.Tensor:
    """0/1 attributes (int64 N x 3) of uint8 images: a measurement above its class's threshold is set."""
    values = measure(x) if values is None else values
    return (values > thresholds.to(values.device)[y]).long()


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Images in [-1, 1] as the uint8 images they were made from (ganforge's batches: uint8 / 127.5 - 1)."""
    return ((x.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


# -- captions ----------------------------------------------------------------------------------------------


def states_code(states: torch.Tensor) -> torch.Tensor:
    """Attribute states (N x 3, each 0/1/2) -> one number 0..26."""
    weights = torch.tensor([STATES**2, STATES, 1], device=states.device)
    return (states * weights).sum(-1)


def code_states(code: int) -> tuple[int, ...]:
    return tuple((code // STATES ** (len(ATTRIBUTES) - 1 - i)) % STATES for i in range(len(ATTRIBUTES)))


def caption(class_index: int, states: tuple[int, ...], template: int) -> str:
    """The caption of template `template` for a class and attribute states (0 unnamed, 1 not set, 2 set)."""
    words = [ATTRIBUTES[i][1] if s == 2 else ATTRIBUTES[i][2] for i, s in enumerate(states) if s]
    noun = CLASS_NOUNS[class_index]
    adj = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1] if words else ""

    def article(word: str) -> str:
        return "an" if word[0] in "aeiou" else "a"

    phrase = f"{', '.join(words)} {noun}" if words else noun
    text = TEMPLATES[template]
    text = re.sub(r"\[(.*?)\]", lambda m: m.group(1) if words else "", text)
    return text.format(np=f"{article(phrase)} {phrase}", np0=f"{article(noun)} {noun}", noun=noun, adj=adj)


def words_of(text: str) -> list[str]:
    """Lower-case words; punctuation other than a hyphen inside a word separates."""
    return re.findall(r"[a-z0-9]+(?:-[a-z0-9]+)*", text.lower())


def all_captions() -> list[str]:
    """Every caption of the grammar, row (class * COMBOS + code) * len(TEMPLATES) + template."""
    return [caption(k, code_states(c), t) for k in range(len(CLASS_NOUNS)) for c in range(COMBOS)
            for t in range(len(TEMPLATES))]


def vocabulary() -> list[str]:
    """The words of every caption, sorted, after PAD (index 0)."""
    return [PAD, *sorted({w for text in all_captions() for w in words_of(text)})]


def training_words() -> set[str]:
    return {w for i, text in enumerate(all_captions()) if i % len(TEMPLATES) < SEEN for w in words_of(text)}


def tokenize(texts: list[str], vocab: list[str], length: int | None = None) -> torch.Tensor:
    """Word ids (int64 N x L, padded with 0) of captions; an unknown word is a UserError naming it."""
    index = {w: i for i, w in enumerate(vocab)}
    rows = []
    for text in texts:
        words = words_of(text)
        if not words:
            raise UserError(f"caption {text!r} has no words; write e.g. 'a dark sneaker'")
        unknown = [w for w in words if w not in index]
        if unknown:
            known = ", ".join(vocab[1:31]) + (f" and {len(vocab) - 31:,} more" if len(vocab) > 31 else "")
            raise UserError(f"caption {text!r}: the word '{unknown[0]}' is not in this run's vocabulary; known "
                            f"words: {known}")
        rows.append([index[w] for w in words])
    width = length or max(len(r) for r in rows)
    if any(len(r) > width for r in rows):
        raise UserError(f"a caption has more than {width} words, the most this run reads; shorten it")
    return torch.tensor([r + [0] * (width - len(r)) for r in rows], dtype=torch.int64)


def caption_table(vocab: list[str]) -> torch.Tensor:
    """all_captions() tokenised: int64 (10 * 27 * 8) x L."""
    return tokenize(all_captions(), vocab)


def caption_rows(y: torch.Tensor, states: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
    """Rows of caption_table for classes y (N,), attribute states (N x 3) and templates (N,)."""
    return (y * COMBOS + states_code(states)) * len(TEMPLATES) + template


def draw_states(attrs: torch.Tensor, mention: float, generator: torch.Generator) -> torch.Tensor:
    """Attribute states of captions for 0/1 attributes (N x 3): each named with probability `mention`."""
    named = torch.rand(attrs.shape, generator=generator, device=generator.device).to(attrs.device) < mention
    return torch.where(named, attrs + 1, torch.zeros_like(attrs))


# -- captions.csv ------------------------------------------------------------------------------------------


def write_captions(x: torch.Tensor, y: torch.Tensor, thresholds: torch.Tensor, out: Path, seed: int = 0,
                   names: list[str] | None = None) -> Path:
    """captions.csv (file,caption) for uint8 images with classes y: every attribute named, a training
    template drawn per image (seeded); `names` are the file names (default 000000.png, ...)."""
    import csv

    g = torch.Generator().manual_seed(seed)
    states = attributes(x, y, thresholds) + 1
    templates = torch.randint(SEEN, (len(x),), generator=g)
    names = names or [f"{i:06d}.png" for i in range(len(x))]
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".tmp-{out.name}")
    with open(tmp, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["file", "caption"])
        for name, k, s, t in zip(names, y.tolist(), states.tolist(), templates.tolist(), strict=True):
            writer.writerow([name, caption(k, tuple(s), t)])
    tmp.replace(out)
    return out
