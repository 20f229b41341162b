"""Scoring image sets: the metrics on features and pixels, each value with its protocol, and the results file.

Every result carries its protocol (extractor and its sha1, sample counts, split, preprocessing), so a number
can be placed beside a published one or found not comparable.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ganforge import viz
from ganforge.errors import UserError
from ganforge.files import write_text_atomic
from ganforge.metrics import frechet, kid, prdc
from ganforge.metrics.features import build_extractor, cached_features, classifier_for, has_logits

# fid, kid, pr, dc compare extractor features (in the Inception's, the FID and KID; in a domain classifier's,
# the same distances are named fd_classifier and kd_classifier, since FID means the Inception's); "is" scores
# the samples' class predictions; swd compares pixel patches; nn finds each sample's nearest training image (a
# memorisation check); acc and intra_fid score class-conditional runs (the classifier's agreement with the
# requested class, FID within each class); cas and aug train a classifier on the samples (alone; added to a few
# real images) and test it on real images.
METRICS = ("fid", "kid", "pr", "dc", "is", "swd", "nn", "acc", "intra_fid", "cas", "aug")
ALIASES = {"fd": "fid", "kd": "kid", "intra_fd": "intra_fid"}  # --metrics fd: the Frechet distance, any features
FEATURE_METRICS = ("fid", "kid", "pr", "dc", "is", "intra_fid")  # the ones that need an extractor
# value-name prefixes of the scores in domain-classifier features (the Inception's keep the usual names)
CLASSIFIER_PREFIXES = (("intra_fid", "intra_fd_classifier"), ("fid", "fd_classifier"), ("kid_", "kd_classifier_"),
                       ("is_", "classifier_score_"))
DEFAULT_METRICS = ("fid", "kid", "pr", "dc")
NEEDS_EXTRACTOR = (*FEATURE_METRICS, "acc")  # acc: the domain classifier's labels
PIXEL_METRICS = ("swd", "nn")  # what the defaults become where no extractor can be had
SWD_MIN = 16  # px: the smallest level of SWD's pyramid (its paper's), so the smallest images it measures
DEFAULT_N = 10_000  # samples and real images, where the real set holds as many
TOY_POINTS = 2500  # samples scored on toy mixtures, as in VEEGAN and PacGAN
NN_LOO_POINTS = 2000  # training images whose leave-one-out distance calibrates the memorisation score


def value_name(key: str, extractor) -> str:
    """The name a value is stored and printed under: FID and KID are the Inception's by definition, so the same
    distances in a domain classifier's features are fd_classifier, kd_classifier_mean, ..."""
    if extractor is None or getattr(extractor, "name", "").startswith("inception"):
        return key
    for old, new in CLASSIFIER_PREFIXES:
        if key.startswith(old):
            return new + key[len(old):]
    return key


def extractor_for(metrics: tuple[str, ...], name: str, dataset_name: str, inception_path: str | None,
                  device: str):
    """The feature extractor `metrics` need, or None: swd needs none, and nn works in pixel space alone when
    no extractor was asked for and the data has no domain classifier (no Inception file is needed)."""
    if any(m in FEATURE_METRICS for m in metrics):
        return build_extractor(name, dataset_name, inception_path, device)
    if "nn" in metrics and (name != "auto" or inception_path or classifier_for(dataset_name)):
        return build_extractor(name, dataset_name, inception_path, device)
    return None


def choose_metrics(requested: str | tuple[str, ...] | None, defaults: tuple[str, ...], name: str, dataset_name: str,
                   inception_path: str | None) -> tuple[tuple[str, ...], dict, list[str]]:
    """The metrics to measure: `requested` (checked) when given, else `defaults` less those that cannot be had
    here: where no features can be had (extractor "auto", no domain classifier for the data, no FID Inception
    file anywhere), the ones that need no features instead; acc without a domain classifier for the data (the
    FID Inception gives features, not class labels). Returns (metrics, protocol entries, notes): what was
    skipped and how to get it, for the protocol ("skipped") and as one line per reason for the user."""
    from ganforge.metrics.classifier import SHIPPED
    from ganforge.metrics.inception import INCEPTION_FILE, INCEPTION_FOLDER, find_inception_path, where_looked

    if requested is not None:
        return parse_metrics(requested), {}, []
    kept, skipped, notes = defaults, [], []
    judge = classifier_for(dataset_name)
    if not (name != "auto" or inception_path or judge or find_inception_path() is not None):
        features = [m for m in kept if m in NEEDS_EXTRACTOR and m != "acc"]
        kept = tuple(dict.fromkeys((*(m for m in kept if m not in features), *PIXEL_METRICS)))
        pixels = ", ".join(m for m in kept if m not in NEEDS_EXTRACTOR)
        why = f"no domain classifier for {dataset_name} and no FID Inception: {where_looked()}"
        skip = ", ".join(features)
        skipped.append(f"{skip}: no feature extractor ({why})")
        notes.append(f"{skip} skipped: they need image features ({why}); measured {pixels} in pixel space instead. "
                     f"For {skip}: pass --inception PATH or put {INCEPTION_FILE} in $GANFORGE_DATA/{INCEPTION_FOLDER}/")
    if "acc" in kept and not judge:
        kept = tuple(m for m in kept if m != "acc")
        have = f"ganforge has one for {', '.join(SHIPPED)} only"
        skipped.append(f"acc: no domain classifier for {dataset_name} ({have})")
        instead = "intra_fid measures each class instead, and " if "intra_fid" in kept else ""
        notes.append(f"acc skipped: it needs a domain classifier to label the samples' classes, and {have}, not for "
                     f"{dataset_name}; {instead}`ganforge sample RUN --class NAME` shows one class's samples")
    return kept, ({"skipped": "; ".join(skipped)} if skipped else {}), notes


def parse_metrics(text: str | tuple[str, ...]) -> tuple[str, ...]:
    """'fid,kid' -> ("fid", "kid"), each checked against METRICS ("fd" and "kd" stand for fid and kid)."""
    names = tuple(m.strip() for m in text.split(",") if m.strip()) if isinstance(text, str) else tuple(text)
    names = tuple(dict.fromkeys(ALIASES.get(m, m) for m in names))
    bad = [m for m in names if m not in METRICS]
    if bad or not names:
        raise UserError(f"unknown metric '{bad[0] if bad else text}'; choose from {', '.join(METRICS)} "
                        "(fd and kd: the same as fid and kid)")
    return names


def default_n(n: int | None, n_real: int) -> int:
    """The number of samples: `n` where given, else as many as the real images, up to DEFAULT_N."""
    return n if n is not None else min(DEFAULT_N, n_real)


def n_protocol(n: int | None, n_real: int, n_fake: int) -> str:
    """The protocol's words on how many images were compared, and why that many."""
    if n is None:
        return (f"{n_fake:,} generated against {n_real:,} real: min({DEFAULT_N:,}, the {n_real:,} real images), "
                f"the default; --n N to choose")
    return f"--n {n:,}: {n_fake:,} generated against {n_real:,} real (the first {n:,}, or all there are)"


def compare(real: torch.Tensor, fake: torch.Tensor, metrics: tuple[str, ...] = DEFAULT_METRICS) -> dict[str, float]:
    """The feature metrics among `metrics` (fid, kid, pr, dc) between two feature sets."""
    out: dict[str, float] = {}
    for name in metrics:
        if name == "fid":
            out["fid"] = frechet.fid_from_features(real, fake)
        elif name == "kid":
            size, count = kid.subset_plan(len(real), len(fake))
            out.update(kid.kernel_inception_distance(real, fake, n_subsets=count, subset_size=size))
        elif name == "pr":
            out.update(prdc.precision_recall(real, fake, k=prdc.PR_K))
        elif name == "dc":
            out.update(prdc.density_coverage(real, fake, k=prdc.DC_K))
    return out


def feature_protocol(metrics: tuple[str, ...], n_real: int, n_fake: int) -> dict:
    """The protocol entries of `compare` for sets of n_real and n_fake, with the counts it uses; "warnings"
    where the sets are too small for pr or dc to mean much (too small for them at all is a UserError)."""
    protocol: dict = {}
    if "fid" in metrics:
        protocol["fid"] = (f"Frechet distance of {n_real:,} real and {n_fake:,} generated feature vectors (biased "
                           "upwards at small n: compare only values of the same n)")
    if "kid" in metrics:
        size, count = kid.subset_plan(n_real, n_fake)
        protocol["kid"] = (f"cubic polynomial kernel, mean and std over {count} random subset pairs of {size:,} "
                           f"images each, from {n_real:,} real and {n_fake:,} generated")
    if "pr" in metrics:
        protocol.update(pr_k=prdc.PR_K, pr=f"k={prdc.PR_K} nearest neighbours among {n_real:,} real and "
                                           f"{n_fake:,} generated")
    if "dc" in metrics:
        protocol.update(dc_k=prdc.DC_K, dc=f"k={prdc.DC_K} nearest neighbours of each of {n_real:,} real, "
                                           f"{n_fake:,} generated")
    warning = prdc.size_warning(metrics, n_real, n_fake)
    if warning:
        protocol["warnings"] = [warning]
    return protocol


def score_images(real: torch.Tensor, fake: torch.Tensor, metrics: tuple[str, ...], extractor,
                 train: torch.Tensor | None = None, panel: Path | None = None,
                 progress: bool = False, cache_fake: bool = True) -> tuple[dict[str, float], dict]:
    """Every metric in `metrics` between uint8 image sets; returns (values, protocol entries).

    `train` is the set the nearest-neighbour check searches (the generator's training images; default
    `real`); `panel` is where the nearest-neighbour picture goes. Sets too small for a metric are refused and
    sets small enough to make it rough are named in protocol["warnings"], before any features are computed.
    """
    if "swd" in metrics and min(real.shape[-2:]) < SWD_MIN:
        raise UserError(f"swd compares Laplacian pyramids down to {SWD_MIN} px, and these images are "
                        f"{real.shape[-1]}x{real.shape[-2]}: measure nn instead (--metrics nn), or train on images of "
                        f"{SWD_MIN} px or more on each side")
    if "is" in metrics and not has_logits(extractor):  # checked before minutes of feature extraction
        raise UserError("the FID Inception file has no logits, so it gives no Inception Score; "
                        "use --extractor classifier (MNIST, Fashion-MNIST) for the classifier score")
    values: dict[str, float] = {}
    protocol: dict = {}
    if any(m in ("fid", "kid", "pr", "dc") for m in metrics):
        protocol.update(feature_protocol(metrics, len(real), len(fake)))
        real_feats = cached_features(real, extractor, progress)
        fake_feats = cached_features(fake, extractor, progress, cache=cache_fake)
        values.update(compare(real_feats, fake_feats, metrics))
    if "is" in metrics:
        from ganforge.metrics.inception_score import inception_score

        values.update(inception_score(extractor.logits(fake)))
        values["is_real_mean"] = inception_score(extractor.logits(real))["is_mean"]  # the score's ceiling
        protocol["is"] = (f"{extractor.name} logits of {len(fake):,} generated, 10 splits; is_real_mean: the same "
                          f"score of the {len(real):,} real images")
    if "swd" in metrics:
        from ganforge.metrics.swd import sliced_wasserstein

        m = min(len(real), len(fake))
        values.update(sliced_wasserstein(real[:m], fake[:m]))
        protocol["swd"] = (f"x1e3, Laplacian pyramid down to 16 px, 128 7x7 patches per image, 4 x 128 random "
                           f"directions, {m:,} images of each set")
    if "nn" in metrics:
        train = real if train is None else train
        values.update(_nearest(fake, train, extractor, panel, progress))
        spaces = f"and in {extractor.name} feature space" if extractor is not None else "only (no extractor)"
        protocol["nn"] = (f"Euclidean nearest of {len(train):,} training images to each of {len(fake):,} "
                          f"generated, in pixel space ([0, 1]) {spaces}; calibrated by the leave-one-out distances "
                          f"of {min(NN_LOO_POINTS, len(train)):,} training images: nn_ratio = median sample "
                          "distance / median leave-one-out distance, copy_rate = fraction of samples closer than "
                          "the 5% closest training pairs (0.05 expected)")
    return {value_name(k, extractor): v for k, v in values.items()}, protocol


def _nearest(fake: torch.Tensor, train: torch.Tensor, extractor, panel: Path | None,
             progress: bool) -> dict[str, float]:
    from ganforge.metrics import nearest

    out: dict[str, float] = {}
    found = {}
    spaces = {"pixel": (fake.flatten(1).float() / 255, train.flatten(1).float() / 255)}
    if extractor is not None:
        spaces["feature"] = (cached_features(fake, extractor, progress), cached_features(train, extractor, progress))
    for space, (a, b) in spaces.items():
        dist, found[space] = nearest.nearest_neighbours(a, b)
        loo = nearest.leave_one_out_distances(b, n=NN_LOO_POINTS)
        if torch.quantile(loo.double(), 0.5) == 0:  # no scale to measure copies by
            raise UserError("nn: most training images have an exact duplicate among them, so their distances give "
                            "no scale to judge copies by; remove the duplicates, or drop nn from --metrics")
        out.update({f"nn_{space}_{k}": v for k, v in nearest.memorisation_score(dist, loo).items()})
    if panel is not None:
        nearest.save_nearest_panel(fake, train, found["pixel"], found.get("feature"), panel, n_show=24,
                                   upscale=2 if fake.shape[-1] < 64 else 1)
    return out


RECONSTRUCTION_PROTOCOL = ("recon_*: the first {n} reference images through the encoder's mean code and the "
                           "decoder, against themselves in [0, 1]; SSIM with an 11x11 Gaussian window, PSNR per "
                           "image with data range 1")


def reconstruction_scores(reconstruct, images: torch.Tensor, batch: int = 1000) -> dict[str, float]:
    """recon_l1, recon_psnr, recon_ssim of uint8 `images` against `reconstruct(images)` (images in [-1, 1]
    -> their reconstructions in [-1, 1]: an autoencoder's encoder and decoder), means over images."""
    from ganforge.metrics import translation as tm

    scores: dict[str, list[torch.Tensor]] = {"recon_l1": [], "recon_psnr": [], "recon_ssim": []}
    for part in images.split(batch):
        target = tm.to_unit(part)
        out = tm.to_unit(viz.to_uint8(reconstruct(part).cpu()))  # rounded as a saved image would be
        scores["recon_l1"].append(tm.l1(out, target))
        scores["recon_psnr"].append(tm.psnr(out, target))
        scores["recon_ssim"].append(tm.ssim(out, target))
    return {k: float(torch.cat(v).mean()) for k, v in scores.items()}


# -- the results file -------------------------------------------------------------------------------------


def merge_json(path: Path, result: dict) -> Path:
    """Add an evaluation to the results file at `path` without losing earlier metrics: "values" holds every
    metric's latest value, "evaluations" each evaluation with the values it still provides and its protocol,
    and "protocol"/"time" the latest one's. A file that cannot be read is replaced."""
    evaluations = []
    if path.is_file():
        try:
            old = json.loads(path.read_text())
            evaluations = old.get("evaluations") or [{k: old[k] for k in ("values", "protocol", "time") if k in old}]
        except (OSError, ValueError, AttributeError):
            evaluations = []
    for entry in evaluations:  # values measured again now are the new evaluation's
        entry["values"] = {k: v for k, v in entry.get("values", {}).items() if k not in result["values"]}
    evaluations = [e for e in evaluations if e["values"]] + [result]
    merged = {k: v for e in evaluations for k, v in e["values"].items()}
    return write_json(path, {"values": merged, "protocol": result["protocol"], "time": result["time"],
                             "evaluations": evaluations})


def write_json(path: Path, data: dict) -> Path:
    """Write JSON atomically: a reader sees the old file or the new one, never half of one."""
    return write_text_atomic(path, json.dumps(data, indent=1) + "\n")
