"""Real-vs-real floors: the Frechet distance (and PR/DC) between the train and test splits of MNIST and
Fashion-MNIST, with the domain-classifier features and, if asked, the FID Inception.

    python bench/fid_floors.py --data-root ../shared/data [--n 10000] [--inception PATH] [--run RUN_DIR]

A generated set can only be judged against these: a model whose FID equals the floor is as close to the test
split as the training split is. The Inception rows cost ~165 ms per image on 2 CPU cores (2 x 10k images:
about an hour); on a GPU, seconds. Features are cached (and saved every 1,000 images), so an interrupted run
resumes and a second run only prints. `--run` adds the scores of a trained Fashion-MNIST run (e.g. the
default `ganforge train`) against the test split, with the same extractors.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ganforge.data import load_dataset
from ganforge.evaluating import evaluate_run
from ganforge.metrics.classifier import ClassifierExtractor, accuracy, load_classifier
from ganforge.metrics.features import cached_features
from ganforge.metrics.scoring import compare


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))  # the first paragraph
    parser.add_argument("--data-root", default="../shared/data", help="folder holding mnist/ and fashion-mnist/")
    parser.add_argument("--n", type=int, default=10_000, help="images from each split")
    parser.add_argument("--inception", help="FID Inception TorchScript file: adds the Inception rows")
    parser.add_argument("--run", help="a trained Fashion-MNIST run folder to score against the test split")
    return parser


def main() -> None:
    args = build_parser().parse_args()

    rows = []
    for name in ("mnist", "fashion-mnist"):
        root = str(Path(args.data_root) / name)
        train = load_dataset(name, root=root, split="train")
        test = load_dataset(name, root=root, split="test")
        model, _ = load_classifier(name)
        rows.append((name, "classifier test accuracy", f"{accuracy(model, test.x, test.y):.4f}", "", ""))
        kinds = [("classifier", ClassifierExtractor(name))]
        if args.inception:
            from ganforge.metrics.inception import InceptionExtractor

            kinds.append(("inception", InceptionExtractor(args.inception)))
        for kind, extractor in kinds:
            started = time.perf_counter()
            a = cached_features(train.x[: args.n], extractor, progress=True)
            b = cached_features(test.x[: args.n], extractor, progress=True)
            values = compare(a, b, ("fid", "pr", "dc"))
            seconds = time.perf_counter() - started
            rows.append((name, f"{kind} FD train vs test", f"{values['fid']:.3f}",
                         (f"P {values['precision']:.3f} R {values['recall']:.3f} "
                         f"D {values['density']:.3f} C {values['coverage']:.3f}"),
                         f"{args.n} vs {args.n}, {seconds:.0f} s"))
    if args.run:
        for kind in ("classifier", "inception") if args.inception else ("classifier",):
            started = time.perf_counter()
            result = evaluate_run(Path(args.run), ("fid", "kid", "pr", "dc"), args.n, "test", kind, args.inception)
            p = result["protocol"]
            # the Inception's FID and KID, or fd_classifier and kd_classifier_*: read both under one name
            v = {k.replace("fd_classifier", "fid").replace("kd_classifier", "kid"): x for k, x in result["values"].items()}
            rows.append((p["dataset"], f"{kind} FD of {Path(args.run).name}", f"{v['fid']:.3f}",
                         (f"P {v['precision']:.3f} R {v['recall']:.3f} "
                          f"D {v['density']:.3f} C {v['coverage']:.3f}"),
                         (f"{p['n_fake']} samples (step {p['checkpoint_step']}) vs {p['n_real']} test, "
                          f"KID {v['kid_mean']:.4f} +- {v['kid_std']:.4f}, {time.perf_counter() - started:.0f} s")))
    print(f"{'dataset':18s} {'measure':34s} {'value':>8s}  {'PR / DC':36s} protocol")
    for row in rows:
        print(f"{row[0]:18s} {row[1]:34s} {row[2]:>8s}  {row[3]:36s} {row[4]}")


if __name__ == "__main__":
    main()
