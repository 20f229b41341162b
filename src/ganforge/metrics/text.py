"""Metrics of text-to-image runs: do the samples show what their caption says?

On fashion-captions:
- class accuracy: the fraction of samples that the Fashion-MNIST domain classifier (metrics/classifier.py)
  labels as the class their caption names;
- attribute accuracy: the fraction of (sample, attribute) pairs where the attribute measured on the sample with
  the caption rules and the run's class thresholds (data/captions.py) equals what the caption says; also per
  attribute;
- both on captions of the training templates (seen) and of the held-out templates, every attribute named;
- caption matching top-1: for each real test image, its true caption among 10, the 9 distractors naming other
  classes (attributes drawn at random); the text and image encoders' matching score picks one; the same
  question for the sample drawn for each caption (sample matching).

On an image folder with its own captions (no classifier or measuring rule knows them), caption matching alone:
for each reference image, its first caption among 10, the 9 distractors other captions of the folder that are
not the image's; top-1 for the real image and for a sample drawn for that caption (as AttnGAN's R-precision,
with the run's own encoders, so a sample scores well when it shows what those encoders learnt to read).

The run is read through its Generator (TakesText): `caption_table()` (the embedding of every caption it draws
from), `match(images, embeddings)` (its encoders' scores), `draw(embeddings, generator)` (a sample per
embedding) and, on fashion-captions, `thresholds` (the attribute thresholds measured on its training data).
"""

from __future__ import annotations

import torch
from tqdm import tqdm

from ganforge.data import captions as cap
from ganforge.errors import UserError

N_CHOICES = 10  # captions per matching question: the true one and 9 of other classes


def attribute_agreement(measured: torch.Tensor, requested: torch.Tensor) -> dict[str, float]:
    """Mean agreement of 0/1 attributes measured on samples (N x 3) with those their captions name (N x 3),
    overall and per attribute."""
    agree = (measured == requested).float()
    out = {"attribute_accuracy": float(agree.mean())}
    out.update({f"attribute_accuracy_{name}": float(agree[:, i].mean())
                for i, (name, _, _) in enumerate(cap.ATTRIBUTES)})
    return out


def matching_top1(scores: torch.Tensor) -> float:
    """Top-1 of matching questions: scores N x K, the true caption in column 0; a tie counts as a miss."""
    best_other = scores[:, 1:].max(1).values
    return float((scores[:, 0] > best_other).float().mean())


def distractor_rows(y: torch.Tensor, generator: torch.Generator, k: int = N_CHOICES - 1,
                    templates: tuple[int, int] = (0, cap.SEEN)) -> torch.Tensor:
    """Caption-table rows of k distractors per image (N x k): distinct other classes, attributes drawn at
    random (every one named), a template from the range `templates`."""
    n, n_classes = len(y), len(cap.CLASS_NOUNS)
    shifts = torch.stack([torch.randperm(n_classes - 1, generator=generator)[:k] + 1 for _ in range(n)])
    classes = (y[:, None] + shifts) % n_classes
    states = torch.randint(1, cap.STATES, (n, k, len(cap.ATTRIBUTES)), generator=generator)
    template = torch.randint(*templates, (n, k), generator=generator)
    return cap.caption_rows(classes, states, template)


@torch.no_grad()
def caption_matching(g, x: torch.Tensor, y: torch.Tensor, seed: int = 0,
                     templates: tuple[int, int] = (0, cap.SEEN), batch: int = 1000) -> float:
    """Top-1 of the matching questions for uint8 images x with classes y: each image's true caption (every
    attribute named, as measured) against 9 distractors, scored by the run's encoders (g.match). `g`: the
    Generator of a text-to-image run on fashion-captions."""
    generator = torch.Generator().manual_seed(seed)
    states = cap.attributes(x, y, g.thresholds) + 1
    true = cap.caption_rows(y, states, torch.randint(*templates, (len(y),), generator=generator))
    rows = torch.cat([true[:, None], distractor_rows(y, generator, templates=templates)], 1)
    table = g.caption_table()
    scores = []
    for i in range(0, len(x), batch):
        images = x[i:i + batch].to(table.device).float().div(127.5).sub(1)
        scores.append(g.match(images, table[rows[i:i + batch].to(table.device)]))
    return matching_top1(torch.cat(scores))


@torch.no_grad()
def caption_scores(g, classifier, y: torch.Tensor, attrs: torch.Tensor, seed: int,
                   templates: tuple[int, int], batch: int = 500, progress: bool = False) -> dict[str, float]:
    """Class and attribute accuracy of one sample per (class y[i], attributes attrs[i]), each drawn for a
    caption naming every attribute, its template from the range `templates`; and the samples' caption matching
    top-1 (their caption among it and 9 distractors, as caption_matching scores real images)."""

    generator = torch.Generator().manual_seed(seed)
    rows = cap.caption_rows(y, attrs + 1, torch.randint(*templates, (len(y),), generator=generator))
    # distractors from a stream of their own: the samples are those drawn without this measurement
    choices = torch.cat([rows[:, None], distractor_rows(y, torch.Generator().manual_seed(seed + 1),
                                                        templates=templates)], 1)
    table = g.caption_table()
    device = table.device
    predicted, measured, scores = [], [], []
    for i in tqdm(range(0, len(y), batch), desc="text samples", disable=not progress, leave=False):
        part = rows[i:i + batch]
        fake = g.draw(table[part.to(device)], generator)
        predicted.append(classifier(fake.to(next(classifier.parameters()).device)).argmax(1).cpu())
        measured.append(cap.attributes(cap.to_uint8(fake), y[i:i + batch].to(fake.device),
                                       g.thresholds.to(fake.device)).cpu())
        scores.append(g.match(fake.to(device), table[choices[i:i + batch].to(device)]))
    predicted, measured = torch.cat(predicted), torch.cat(measured)
    return {"class_accuracy": float((predicted == y).float().mean()), **attribute_agreement(measured, attrs),
            "sample_matching_top1": matching_top1(torch.cat(scores))}


def own_distractors(own: torch.Tensor, count: int, generator: torch.Generator, k: int) -> torch.Tensor:
    """k distinct caption indices per image (N x k) among `count` captions, none of them the image's own
    (own: N x K caption indices, -1 padded)."""
    rows = []
    for mine in own.tolist():
        order = torch.randperm(count, generator=generator)
        rows.append(order[~torch.isin(order, torch.tensor(mine))][:k])
    return torch.stack(rows)


@torch.no_grad()
def own_caption_matching(g, real, n: int | None, seed: int = 0, batch: int = 500, *, split: str,
                         progress: bool = True) -> tuple[dict, dict]:
    """(values, protocol) of a text-to-image run (its Generator `g`) on an image folder with its own captions
    (`real`: that folder's reference images, which `split` describes for the protocol): caption matching top-1
    of the first n images and of one sample drawn for each image's first caption."""

    n = min(n or 10_000, len(real.x))
    if real.captions is None:
        raise ValueError(f"{real.name} has no captions")
    # the reference data's captions as rows of the run's caption table (a caption the run never saw: tokenised)
    index = {text: i for i, text in enumerate(g.spec.captions)}
    texts = real.caption_texts
    missing = [t for t in texts if t not in index]
    table = g.caption_table()
    if missing:
        table = torch.cat([table, g.embed(missing).to(table.device)])
        index.update({t: len(index) + i for i, t in enumerate(missing)})
    x, own = real.x[:n], real.captions[:n]
    own = torch.where(own >= 0, torch.tensor([index[t] for t in texts])[own.clamp(min=0)], own)
    k = min(N_CHOICES - 1, len(table) - own.shape[1])
    if k < 1:
        raise UserError(f"{real.name}: an image has every caption of the folder, which leaves no other caption to "
                        "match it against; caption matching needs captions that are not every image's")
    generator = torch.Generator().manual_seed(seed)
    rows = torch.cat([own[:, :1], own_distractors(own, len(table), generator, k)], 1)
    device = table.device
    real_scores, sample_scores = [], []
    for i in tqdm(range(0, n, batch), desc="caption matching", disable=not progress, leave=False):
        part = rows[i:i + batch].to(device)
        images = x[i:i + batch].to(device).float().div(127.5).sub(1)
        real_scores.append(g.match(images, table[part]))
        fake = g.draw(table[part[:, 0]], generator)
        sample_scores.append(g.match(fake.to(device), table[part]))
    values = {"matching_top1": matching_top1(torch.cat(real_scores)),
              "sample_matching_top1": matching_top1(torch.cat(sample_scores)), "chance": 1 / (k + 1)}
    protocol = {
        "dataset": real.name, "split": split, "n_captions": n,
        "matching_top1": (f"each reference image's first caption among {k + 1}, the distractors other captions of "
                          "the folder, none of them the image's; scored by the pre-trained image and text encoders' "
                          "inner product"),
        "sample_matching_top1": "the same questions for one sample drawn for each reference image's first caption",
    }
    return values, protocol


def score_text_run(g, real, n: int | None, seed: int = 0, *, split: str, progress: bool = True) -> tuple[dict, dict]:
    """(values, protocol) of a text-to-image run (its Generator `g`) against `real` (fashion-captions' reference
    images, which `split` describes for the protocol): class and attribute accuracy on seen and held-out
    templates for the classes and measured attributes of the first n images, and caption matching top-1 on
    those images."""
    from ganforge.metrics.classifier import load_classifier

    n = min(n or 10_000, len(real.x))
    x, y = real.x[:n], real.y[:n]
    attrs = cap.attributes(x, y, g.thresholds)
    classifier, _ = load_classifier("fashion-mnist")
    classifier = classifier.to(g.device).eval()
    values = {}
    for name, templates in (("seen", (0, cap.SEEN)), ("heldout", (cap.SEEN, len(cap.TEMPLATES)))):
        got = caption_scores(g, classifier, y, attrs, seed, templates, progress=progress)
        values.update({f"{k}_{name}": v for k, v in got.items()})
    values["class_accuracy_drop"] = values["class_accuracy_seen"] - values["class_accuracy_heldout"]
    values["attribute_accuracy_drop"] = values["attribute_accuracy_seen"] - values["attribute_accuracy_heldout"]
    values["matching_top1"] = caption_matching(g, x, y, seed)
    values["matching_top1_heldout"] = caption_matching(g, x, y, seed, (cap.SEEN, len(cap.TEMPLATES)))
    values["real_attribute_rate"] = float(attrs.float().mean())
    protocol = {
        "dataset": real.name, "split": split, "n_captions": n,
        "captions": (f"one sample per reference image, its caption naming the image's class and its three measured "
                     f"attributes; seen: templates 0-{cap.SEEN - 1}, heldout: templates {cap.SEEN}-"
                     f"{len(cap.TEMPLATES) - 1} (never trained on)"),
        "class_accuracy": "the shipped Fashion-MNIST domain classifier's label equals the caption's class",
        "attribute_accuracy": ("darkness, size and pattern measured on the uint8 sample (data/captions.py) against "
                               "the run's per-class training-split medians, equal to the caption's word"),
        "matching_top1": (f"each reference image's true caption among {N_CHOICES}, distractors from other "
                          "classes, scored by the pre-trained image and text encoders' inner product"),
        "sample_matching_top1": "the same questions for the sample drawn for each reference image's caption",
    }
    return values, protocol
