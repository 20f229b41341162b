"""What the rest of ganforge knows about data: a batch of named tensors, and the description of a dataset
that a family builds its networks from (kept in a run's run.json, so sampling needs no data)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from ganforge.data.registry import Dataset


class Batch:
    """A batch of named tensors: `x` (images in [-1, 1] or toy vectors) and `y` (int64 classes (N,) or 0/1
    attributes (N, A)) for one dataset; paired data adds its other fields (an input image, a caption), unpaired
    data one set of fields per domain. Read as `batch.x` or `batch["x"]`; a field the batch lacks reads None
    as an attribute (unlabelled data has no y) and raises KeyError by index."""

    def __init__(self, x: torch.Tensor | None = None, y: torch.Tensor | None = None, **fields: torch.Tensor | None):
        self.fields = {k: v for k, v in {"x": x, "y": y, **fields}.items() if v is not None}

    def __getattr__(self, name: str) -> torch.Tensor | None:
        if name == "fields":  # not yet set (copying, unpickling): no recursion
            raise AttributeError(name)
        return self.fields.get(name)

    def __getitem__(self, name: str) -> torch.Tensor:
        return self.fields[name]

    def __contains__(self, name: str) -> bool:
        return name in self.fields

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(next(iter(self.fields.values()))) if self.fields else 0

    def __repr__(self) -> str:
        return f"Batch({', '.join(f'{k}: {tuple(v.shape)}' for k, v in self.fields.items())})"


@dataclass(frozen=True)
class DataSpec:
    """What a family needs to know about its data to build networks and to sample."""

    shape: tuple[int, ...]  # one example: C x H x W for images, (D,) for toy vectors
    is_image: bool
    n_classes: int = 0
    attr_names: tuple[str, ...] = ()  # binary attributes per example (conditioning on them replaces classes)
    n_examples: int = 0  # training examples, for schedules counted in epochs (0: unknown)
    class_names: tuple[str, ...] = ()
    attr_means: tuple[float, ...] = ()  # each attribute's frequency in the training data
    input_shape: tuple[int, ...] = ()  # image-to-image data: one input image (domain A), C x H x W; () otherwise
    paired: bool = True  # image-to-image data: input i translates to image i (False: two unrelated domains)
    captions: tuple[str, ...] = ()  # an image folder's distinct captions (text2image draws from them)

    @property
    def translates(self) -> bool:
        """Image-to-image data: the model maps input images (domain A) to images like `shape` (domain B)."""
        return bool(self.input_shape)

    @property
    def layout(self) -> str:
        """"single", "paired" or "unpaired", as data.registry.data_layout tells it before loading."""
        return "single" if not self.translates else "paired" if self.paired else "unpaired"

    @property
    def n_cond(self) -> int:
        """Length of the condition vector: one per attribute, else one per class."""
        return len(self.attr_names) or self.n_classes


def data_spec(dataset: Dataset) -> DataSpec:
    n_classes = len(dataset.class_names) if dataset.class_names else 0
    means = () if dataset.attributes is None else tuple(dataset.attributes.mean(0).tolist())
    inputs = () if dataset.inputs is None else tuple(dataset.inputs.shape[1:])
    return DataSpec(tuple(dataset.x.shape[1:]), dataset.kind == "image", n_classes, tuple(dataset.attr_names or ()),
                    n_examples=len(dataset.x), class_names=tuple(dataset.class_names or ()), attr_means=means,
                    input_shape=inputs, paired=dataset.paired, captions=tuple(dataset.caption_texts or ()))


def training_labels(dataset: Dataset) -> torch.Tensor | None:
    """The labels batches carry: the 0/1 attributes when the data has them, else the classes."""
    return dataset.attributes if dataset.attributes is not None else dataset.y


def describe_data(dataset: Dataset) -> dict:
    """run.json's "data" entry: what sampling needs to rebuild the networks and draw samples without the data."""
    spec = data_spec(dataset)
    return {"name": dataset.name, "kind": dataset.kind, "source": dataset.source, "n": len(dataset.x),
            "shape": list(spec.shape), "n_classes": spec.n_classes, "class_names": dataset.class_names,
            "attr_names": list(spec.attr_names), "attr_means": list(spec.attr_means) or None,
            "modes": None if dataset.modes is None else dataset.modes.tolist(), "sigma": dataset.sigma,
            "input_shape": list(spec.input_shape) or None, "paired": spec.paired,
            "crop": None if dataset.crop is None else list(dataset.crop), "captions": list(spec.captions) or None}


def spec_from_description(data: dict) -> DataSpec:
    """The DataSpec of run.json's "data" entry."""
    return DataSpec(tuple(data["shape"]), data["kind"] == "image", data["n_classes"],
                    tuple(data.get("attr_names") or ()), n_examples=data.get("n", 0),
                    class_names=tuple(data.get("class_names") or ()), attr_means=tuple(data.get("attr_means") or ()),
                    input_shape=tuple(data.get("input_shape") or ()), paired=data.get("paired", True),
                    captions=tuple(data.get("captions") or ()))
