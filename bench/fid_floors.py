"""Real-vs-real floors: the Frechet distance (and PR/DC) between the train and test splits of MNIST and
Fashion-MNIST, with the domain-classifier features and, if asked, the FID Inception.

    python bench/fid_floors.py --data-root ../shared/data [--n 10000] [--inception PATH]

A generated set can only be judged against these: a model whose FID equals the floor is as close to the test
split as the training split is. The Inception rows cost ~165 ms per image on 2 CPU cores (2 x 10k images:
about an hour); on a GPU, seconds.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ganforge.data import load_dataset
from ganforge.metrics.classifier import accuracy, load_classifier
from ganforge.metrics.evaluate import ClassifierExtractor, compare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", default="../shared/data", help="folder holding mnist/ and fashion-mnist/")
    parser.add_argument("--n", type=int, default=10_000, help="images from each split")
    parser.add_argument("--inception", help="FID Inception TorchScript file: adds the Inception rows")
    args = parser.parse_args()

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
            a = extractor.features(train.x[: args.n], progress=True)
            b = extractor.features(test.x[: args.n], progress=True)
            values = compare(a, b, ("fid", "pr", "dc"))
            seconds = time.perf_counter() - started
            rows.append((name, f"{kind} FD train vs test", f"{values['fid']:.3f}",
                         (f"P {values['precision']:.3f} R {values['recall']:.3f} "
                         f"D {values['density']:.3f} C {values['coverage']:.3f}"),
                         f"{args.n} vs {args.n}, {seconds:.0f} s"))
    print(f"{'dataset':14s} {'measure':28s} {'value':>8s}  {'PR / DC':36s} protocol")
    for row in rows:
        print(f"{row[0]:14s} {row[1]:28s} {row[2]:>8s}  {row[3]:36s} {row[4]}")


if __name__ == "__main__":
    main()
