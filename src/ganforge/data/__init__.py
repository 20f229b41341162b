"""Datasets: the embedded Fashion-MNIST split, MNIST-family IDX files, image folders and toy mixtures."""

from ganforge.data.idx import read_idx
from ganforge.data.registry import DATASET_NAMES, Dataset, load_dataset, make_toy

__all__ = ["DATASET_NAMES", "Dataset", "load_dataset", "make_toy", "read_idx"]
