"""`ganforge eval` for image-to-image runs: translate the test inputs and compare with what they should become.

- l1, psnr, ssim: each output against its true target (pixels in [0, 1]; PSNR and SSIM per image, then
  averaged), on the region the task measures (fashion-edges: the 28 x 28 image inside its padding);
- class_accuracy: the domain classifier's label of each output against the label of its input (the
  "FCN-score" idea of Isola et al. with ganforge's classifiers), beside class_accuracy_real, the same
  classifier on the true targets: the ceiling;
- fd_classifier: the Frechet distance between outputs and true targets in the classifier's features;
- for two-way families, the same from B to A (named *_ba), cycle L1 of both round trips, and flip_rate;
- for super-resolution, the same for bicubic interpolation of the inputs (named *_bicubic): the baseline.
"""

from __future__ import annotations

import torch

from ganforge import viz
from ganforge.data.translation import centre_crop
from ganforge.errors import UserError
from ganforge.metrics import frechet
from ganforge.metrics import translation as tm

# the shipped classifier that reads the domain each task's direction translates into
TARGET_CLASSIFIER = {("fashion-edges", "AB"): "fashion-mnist", ("fashion-sr4", "AB"): "fashion-mnist",
                     ("fashion-sr2", "AB"): "fashion-mnist", ("mnist-colour", "AB"): "mnist-colour",
                     ("mnist-colour", "BA"): "mnist"}
BATCH = 256


def translate_all(g, inputs: torch.Tensor, direction: str = "AB") -> torch.Tensor:
    """uint8 outputs of a translator `g` (Translates: an image-to-image run's Generator) for uint8 `inputs`,
    in batches, rounded as saved images."""
    parts = []
    for part in inputs.split(BATCH):
        a = part.to(g.device).float().div_(127.5).sub_(1.0)
        parts.append(viz.to_uint8(g.translate(a, direction).float().cpu()))
    return torch.cat(parts)


def bicubic(images: torch.Tensor, size) -> torch.Tensor:
    """uint8 images enlarged to `size` by bicubic interpolation, clamped and rounded back to uint8."""
    x = torch.nn.functional.interpolate(images.float(), size=tuple(size), mode="bicubic", align_corners=False)
    return x.round_().clamp_(0, 255).to(torch.uint8)


def centre(images: torch.Tensor, crop: tuple[int, int] | None) -> torch.Tensor:
    return images if crop is None else centre_crop(images, *crop)


def pair_scores(outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """Mean L1, PSNR (dB, data range 1) and SSIM of uint8 outputs against their uint8 targets."""
    a, b = tm.to_unit(outputs), tm.to_unit(targets)
    return {"l1": float(tm.l1(a, b).mean()), "psnr": float(tm.psnr(a, b).mean()), "ssim": float(tm.ssim(a, b).mean())}


def class_scores(outputs: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor, classifier: str,
                 device: str) -> dict[str, float]:
    """Accuracy of the domain classifier on outputs and on the true targets, and the FD between them."""
    from ganforge.metrics.classifier import ClassifierExtractor

    judge = ClassifierExtractor(classifier, device=device)
    out = {"class_accuracy": float((judge.logits(outputs).argmax(1) == labels).float().mean()),
           "class_accuracy_real": float((judge.logits(targets).argmax(1) == labels).float().mean())}
    out["fd_classifier"] = frechet.fid_from_features(judge.features(targets), judge.features(outputs))
    return out


def score_translation(g, test, n: int | None, split: str) -> tuple[dict[str, float], dict]:
    """Every translation metric of a translator `g` (Translates) on the first `n` pairs of the paired dataset
    `test` (all when None), which `split` describes for the protocol (evaluating.reference_data's words); one
    that translates both ways (CycleGAN) is measured both ways (names ending _ba for B -> A), with the round
    trips' cycle L1 and the share of outputs with inverted colours."""
    if test.inputs is None or not test.paired:
        where = f"its {split} split" if split in ("train", "test") else split
        raise UserError(f"{test.name}: no pairs to measure translations against in {where}; give test pairs "
                        "(test/A/ and test/B/, or testA/ and testB/, with matching file names)")
    n = min(n or len(test.x), len(test.x))
    device = str(g.device)
    both = len(g.directions) > 1
    sides = {"AB": (test.inputs[:n], test.x[:n]), "BA": (test.x[:n], test.inputs[:n])}
    values: dict[str, float] = {}
    for direction in g.directions:
        source, target = sides[direction]
        suffix = "" if direction == "AB" else "_ba"
        translated = translate_all(g, source, direction)
        outputs, targets = centre(translated, test.crop), centre(target, test.crop)
        scores = pair_scores(outputs, targets)
        classifier = TARGET_CLASSIFIER.get((test.name, direction))
        if classifier is not None and test.input_labels is not None:
            scores.update(class_scores(outputs, targets, test.input_labels[:n], classifier, device))
        if both:
            scores["flip_rate"] = tm.flip_rate(tm.to_unit(outputs), tm.to_unit(targets))
            back = translate_all(g, translated, direction[::-1])
            values[f"cycle_l1_{(direction + direction[0]).lower()}"] = float(
                tm.l1(tm.to_unit(back), tm.to_unit(source)).mean())
        values.update({name + suffix: value for name, value in scores.items()})
        if source.shape[-1] < target.shape[-1]:  # super-resolution: bicubic interpolation beside it
            baseline = centre(bicubic(source, target.shape[-2:]), test.crop)
            scores = pair_scores(baseline, targets)
            if classifier is not None and test.input_labels is not None:
                scores.update(class_scores(baseline, targets, test.input_labels[:n], classifier, device))
            values.update({f"{name}_bicubic": value for name, value in scores.items() if name != "class_accuracy_real"})
    size = "x".join(map(str, centre(test.x[:1], test.crop).shape[-2:]))
    protocol = {"n_pairs": n, "dataset": test.name, "split": split, "region": f"the centre {size}",
                "translation": "l1: mean |output - target| per pixel in [0, 1]; psnr: dB per image, data range 1, "
                               f"capped at {tm.PSNR_CAP:g}; ssim: Wang et al. 2004, 11x11 Gaussian window (sigma "
                               "1.5), per image; outputs rounded to uint8 as saved"}
    judges = {d: TARGET_CLASSIFIER.get((test.name, d)) for d in g.directions}
    if any(judges.values()):
        named = ", ".join(f"{d}: {c}-classifier" for d, c in judges.items() if c)
        protocol["classifier"] = (f"{named}; class_accuracy of the outputs against their inputs' labels, "
                                  "class_accuracy_real of the true targets; fd_classifier between outputs and "
                                  "targets in its features")
    if "psnr_bicubic" in values:
        protocol["baseline"] = ("names ending _bicubic: the inputs enlarged by bicubic interpolation (PyTorch's, "
                                "a = -0.75, no antialiasing), rounded to uint8, scored alike")
    if both:
        protocol["both_ways"] = ("names ending _ba: B -> A, the test images of B against their true counterparts "
                                 "in A; cycle_l1_aba: |G_BA(G_AB(a)) - a| per pixel in [0, 1], cycle_l1_bab the "
                                 "other round trip; flip_rate: outputs whose centre/border contrast (light on dark "
                                 "or dark on light) differs from their target's")
    return values, protocol
