"""Domain classifiers for MNIST and Fashion-MNIST, trained by ganforge itself.

They give fast Frechet distances for monitoring (128-d features instead of Inception's 2048-d at ~165 ms per
image on a CPU), class accuracy and coverage of conditional samples, and mode counts on Stacked MNIST.
The recipe is fixed and seeded (`ganforge classifier train`); the weights ship with the package.

Input: images in [-1, 1], N x 1 x 28 x 28 (ganforge's value range, so generated samples go in directly); the
mnist-colour classifier reads the coloured digits of that task's domain B, N x 3 x 28 x 28.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save
from torch import nn
from tqdm import tqdm

from ganforge import viz
from ganforge.errors import UserError
from ganforge.files import atomic_write, write_text_atomic

WEIGHTS_DIR = Path(__file__).parent / "weights"
SHIPPED = {"mnist": "mnist-classifier", "fashion-mnist": "fashion-mnist-classifier",
           "mnist-colour": "mnist-colour-classifier"}  # mnist-colour: its coloured domain (B), RGB
# the same recipe with another seed, for losses (SRGAN's content loss) that the first one then grades
SECOND_SEEDS = {"fashion-mnist-seed1": "fashion-mnist-classifier-seed1"}
FEATURE_DIM = 128


def conv_bn(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class DomainClassifier(nn.Module):
    """A small VGG-style CNN: 28 -> 14 -> 7 -> global average pool -> 128-d features -> 10 logits."""

    def __init__(self, n_classes: int = 10, in_channels: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            *conv_bn(in_channels, 16), *conv_bn(16, 16), nn.MaxPool2d(2),
            *conv_bn(16, 32), *conv_bn(32, 32), nn.MaxPool2d(2),
            *conv_bn(32, FEATURE_DIM), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.dropout = nn.Dropout(0.3)
        self.head = nn.Linear(FEATURE_DIM, n_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def feature_maps(self, x: torch.Tensor) -> torch.Tensor:
        """The last convolution's activations before pooling, N x 128 x 7 x 7: where each feature is, too."""
        return self.body[:-2](x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))


@dataclass
class Recipe:
    """The seeded training recipe; stored beside the weights."""

    dataset: str
    epochs: int
    batch_size: int = 128
    lr: float = 2e-3
    weight_decay: float = 5e-4
    max_shift: int = 2  # random translation of up to max_shift pixels, the usual MNIST augmentation
    seed: int = 0


# per dataset: epochs and the largest random shift (clothing is centred, so Fashion-MNIST shifts less)
DEFAULT_EPOCHS = {"mnist": 3, "fashion-mnist": 15, "mnist-colour": 3}
DEFAULT_SHIFT = {"mnist": 2, "fashion-mnist": 1, "mnist-colour": 2}


def _to_float(x: torch.Tensor) -> torch.Tensor:
    return x.float().div_(127.5).sub_(1.0)


def random_shift(x: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image by up to `max_shift` pixels (zero padding = the background value -1)."""
    if max_shift == 0:
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, [max_shift] * 4, value=-1.0)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None, :]).to(x.device)  # n x h
    cols = (dx[:, None] + torch.arange(w)[None, :]).to(x.device)  # n x w
    index = torch.arange(n, device=x.device)[:, None, None]
    return padded[index, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


@torch.no_grad()
def accuracy(model: nn.Module, x_uint8: torch.Tensor, y: torch.Tensor, batch_size: int = 1000) -> float:
    was_training = model.training
    model.eval()
    correct = 0
    for i in range(0, len(x_uint8), batch_size):
        logits = model(_to_float(x_uint8[i : i + batch_size]))
        correct += int((logits.argmax(1) == y[i : i + batch_size]).sum())
    model.train(was_training)
    return correct / len(x_uint8)


def train_classifier(train_x: torch.Tensor, train_y: torch.Tensor, recipe: Recipe, progress: bool = True
                     ) -> DomainClassifier:
    """Adam with a one-cycle learning rate, random shifts; uint8 N x C x 28 x 28 images, int64 labels."""
    torch.manual_seed(recipe.seed)
    generator = torch.Generator().manual_seed(recipe.seed)
    model = DomainClassifier(int(train_y.max()) + 1, train_x.shape[1])
    steps_per_epoch = math.ceil(len(train_x) / recipe.batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=recipe.epochs * steps_per_epoch)
    bar = tqdm(total=recipe.epochs * steps_per_epoch, unit="step", disable=not progress, desc="classifier")
    for _ in range(recipe.epochs):
        order = torch.randperm(len(train_x), generator=generator)
        for i in range(steps_per_epoch):
            index = order[i * recipe.batch_size : (i + 1) * recipe.batch_size]
            x = random_shift(_to_float(train_x[index]), recipe.max_shift, generator)
            loss = F.cross_entropy(model(x), train_y[index])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            bar.update()
    bar.close()
    return model.eval()


def save_classifier(model: DomainClassifier, path: Path, meta: dict) -> None:
    """Weights in safetensors, the recipe and test accuracy in a JSON file beside them (written last, so a
    JSON file is only ever beside whole weights)."""
    path = Path(path)
    with atomic_write(path.with_suffix(".safetensors")) as f:
        f.write(save({k: v.contiguous() for k, v in model.state_dict().items()}))
    write_text_atomic(path.with_suffix(".json"), json.dumps(meta, indent=1) + "\n")


def load_classifier(name_or_path: str) -> tuple[DomainClassifier, dict]:
    """A shipped classifier by dataset name ("mnist", "fashion-mnist", or "fashion-mnist-seed1" of
    SECOND_SEEDS) or a .safetensors path; eval mode."""
    shipped = {**SHIPPED, **SECOND_SEEDS}
    if name_or_path in shipped:
        path = WEIGHTS_DIR / f"{shipped[name_or_path]}.safetensors"
    else:
        path = Path(name_or_path)
    meta_path = path.with_suffix(".json")
    try:
        state = load_file(str(path))
        meta = json.loads(meta_path.read_text())
    except (OSError, SafetensorError, json.JSONDecodeError) as e:
        raise UserError(f"cannot load classifier {path} (and {meta_path.name} beside it): {e}") from None
    model = DomainClassifier(meta.get("n_classes", 10), meta.get("in_channels", 1))
    model.load_state_dict(state)
    return model.eval(), meta


def train_and_save(dataset: str, root: str | None, out: Path, epochs: int | None = None, seed: int = 0,
                   progress: bool = True) -> dict:
    """The `ganforge classifier train` recipe: train on the 60k train split, report test accuracy, save."""
    from ganforge.data import load_dataset

    if dataset not in DEFAULT_EPOCHS:
        raise UserError(f"classifier --data must be one of {', '.join(DEFAULT_EPOCHS)}, got '{dataset}'")
    recipe = Recipe(dataset, epochs or DEFAULT_EPOCHS[dataset], max_shift=DEFAULT_SHIFT[dataset], seed=seed)
    train_set = load_dataset(dataset, root=root, split="train")
    test_set = load_dataset(dataset, root=root, split="test")
    started = time.perf_counter()
    model = train_classifier(train_set.x, train_set.y, recipe, progress)
    test_accuracy = accuracy(model, test_set.x, test_set.y)
    meta = {"dataset": dataset, "test_accuracy": round(test_accuracy, 5), "n_train": len(train_set.x),
            "n_test": len(test_set.x), "n_classes": 10, "in_channels": train_set.x.shape[1],
            "feature_dim": FEATURE_DIM, "input": f"N x {train_set.x.shape[1]} x 28 x 28 in [-1, 1]", "recipe": asdict(recipe),
            "train_seconds": round(time.perf_counter() - started, 1), "torch": torch.__version__}
    save_classifier(model, out, meta)
    return meta


def sha1_of(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass
class ClassifierExtractor:
    """128-d penultimate features of a shipped domain classifier: a fast Frechet distance for 28x28 data."""

    dataset: str
    batch_size: int = 1000
    device: str = "cpu"

    def __post_init__(self):
        self.model, self.meta = load_classifier(self.dataset)
        self.model.to(self.device)
        self.name = f"{self.dataset}-classifier"
        self.sha1 = sha1_of(WEIGHTS_DIR / f"{SHIPPED[self.dataset]}.safetensors")
        self.shape = (self.meta.get("in_channels", 1), 28, 28)
        self.preprocess = f"uint8 -> [-1, 1], 28x28, {self.shape[0]} channel(s), no resize"

    @torch.no_grad()
    def features(self, images: torch.Tensor, progress: bool = False) -> torch.Tensor:
        if tuple(images.shape[1:]) != self.shape:
            raise UserError(f"the {self.name} extractor needs {' x '.join(map(str, self.shape))} images, got "
                            f"{tuple(images.shape[1:])}; use --extractor inception")
        out = []
        for part in tqdm(viz.to_uint8(images).split(self.batch_size), desc=self.name, disable=not progress):
            x = part.to(self.device).float().div_(127.5).sub_(1.0)
            out.append(self.model.features(x).float().cpu())
        return torch.cat(out)

    @torch.no_grad()
    def logits(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits (N x 10) of uint8 or [-1, 1] images."""
        self.features(images[:0])  # the same shape check
        parts = viz.to_uint8(images).split(self.batch_size)
        return torch.cat([self.model(p.to(self.device).float().div_(127.5).sub_(1.0)).float().cpu() for p in parts])
