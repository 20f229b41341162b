"""Dataset names and paths -> one in-memory Dataset.

Every dataset is small enough to hold as a single tensor (uint8 for images, so 60,000 MNIST digits
take 47 MB), which keeps batching trivial and fast on any device.
"""

from __future__ import annotations

import difflib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ganforge.data.archives import is_archive
from ganforge.data.fitting import ASPECTS, describe_fitting, fit_tensor, target_size
from ganforge.data.folder import load_image_folder
from ganforge.data.idx import (
    find_images_file,
    is_idx_images_name,
    labels_file_for,
    load_idx_pair,
    read_idx_bytes,
)
from ganforge.data.pairs import LAYOUTS, load_translation_folder, load_two_folders, translation_layout
from ganforge.data.toy import TOY_SPECS, sample_toy
from ganforge.errors import UserError


@dataclass
class Dataset:
    """A whole dataset in memory.

    Images: x is uint8 N x C x H x W (C = 1 or 3). Toy mixtures: x is float32 N x D (D = 1 or 2), y is
    the mode each point was drawn from, modes holds the M x D centres and sigma their common std.
    Image folders with an attribute file (data/attributes.py) also carry binary attributes per image:
    attributes is float32 N x A (0/1, row i belongs to x[i]) and attr_names its A column names.
    """

    name: str  # "fashion-mnist-10k", "mnist", "toy-ring", "folder:<path>", "idx:<path>", ...
    kind: str  # "image", "toy" or "video" (x: uint8 N x T x H x W clips, frames as channels)
    x: torch.Tensor
    y: torch.Tensor | None  # int64 (N,) labels, or None for unlabelled data
    class_names: list[str] | None
    source: str  # "embedded", "generated", or the file/folder read
    modes: torch.Tensor | None = None
    sigma: float | None = None
    skipped: int = 0  # bad image files skipped under on_bad_file="skip"
    attributes: torch.Tensor | None = None  # float32 N x A, values 0/1; None without an attribute file
    attr_names: list[str] | None = None  # the A attribute names
    skipped_files: list[str] = field(default_factory=list)  # "path: reason" of each skipped file
    # image-to-image data (data/translation.py): `inputs` are the images of domain A, `x` those of domain B;
    # paired: inputs[i] translates to x[i] (pix2pix, super-resolution; the test split of an unpaired task,
    # kept for measuring); unpaired: two unrelated sets, each with its labels (CycleGAN)
    inputs: torch.Tensor | None = None
    input_labels: torch.Tensor | None = None
    paired: bool = True
    crop: tuple[int, int] | None = None  # (h, w): metrics read the centre of this size (the image inside padding)
    # an image folder with captions (data/caption_files.py): int64 N x K, row i the indices of image i's captions
    # into caption_texts, padded with -1
    captions: torch.Tensor | None = None
    caption_texts: list[str] | None = None
    # an image folder: how many files had each (width, height) before resizing (the crop note reads it)
    image_sizes: dict[tuple[int, int], int] | None = None
    # images: what was done to them to make them the training size, in a few words (reals.png's caption)
    fitting: str | None = None
    notes: list[str] = field(default_factory=list)  # what reading decided that the user may not expect


EMBEDDED = Path(__file__).parent / "embedded"
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                   "Bag", "Ankle boot"]
DIGIT_CLASSES = [str(d) for d in range(10)]

DATASET_NAMES: dict[str, str] = {
    "fashion-mnist-10k": "Fashion-MNIST test split shipped with ganforge: 10,000 28x28 gray clothing images, "
                         "10 classes",
    "fashion-mnist": "Fashion-MNIST: 60,000 train / 10,000 test 28x28 gray clothing images, 10 classes "
                     "(the four IDX files, in data.root)",
    "mnist": "MNIST handwritten digits: 60,000 train / 10,000 test 28x28 gray images, 10 classes "
             "(the four IDX files, in data.root)",
    "stacked-mnist": "Stacked MNIST (VEEGAN, PacGAN): three random MNIST digits as the R, G, B channels, "
                     "1,000 modes; as many 3x28x28 images as MNIST's split (needs mnist in data.root)",
    "fashion-edges": "paired translation: Fashion-MNIST edges (Sobel magnitude) -> the image, both padded to "
                     "32x32 (needs fashion-mnist in data.root)",
    "fashion-sr4": "super-resolution 4x: Fashion-MNIST at 7x7 (area average) -> 28x28 (needs fashion-mnist)",
    "fashion-sr2": "super-resolution 2x: Fashion-MNIST at 14x14 -> 28x28 (needs fashion-mnist)",
    "fashion-captions": "text-to-image: Fashion-MNIST with captions from templates over its class and attributes "
                        "measured from its pixels (data/captions.py; needs fashion-mnist in data.root)",
    "mnist-colour": "unpaired translation: gray MNIST digits <-> light digits on dark coloured textures (RGB), "
                    "from disjoint halves of the train split; each test digit keeps its true counterpart "
                    "(needs mnist in data.root)",
    "moving-mnist": "video: Moving MNIST generated from MNIST digits (data/moving_mnist.py): two digits bouncing in "
                    "64x64, 20 frames (10 in, 10 out); 10,000 training clips seeded by train.seed, a fixed test "
                    "set of 10,000 (needs mnist in data.root)",
    **{name: spec[2] for name, spec in TOY_SPECS.items()},
}
TRANSLATION_TASKS = ("fashion-edges", "fashion-sr4", "fashion-sr2", "mnist-colour")

# md5 of the *unpacked* IDX files. The publishers' md5s are of the .gz files, but repackaged copies
# (Debian's, for one) hold the same data with different gzip headers, so check the contents instead.
KNOWN_MD5 = {
    "mnist": {
        "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
        "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
        "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
        "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
        "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
        "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
        "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
    },
}
KNOWN_CLASSES = {"mnist": DIGIT_CLASSES, "fashion-mnist": FASHION_CLASSES}
# where to fetch the files by hand (ganforge downloads nothing)
SOURCES = {"mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/ (a mirror of yann.lecun.com/exdb/mnist)",
           "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"}
IDX_FILES = tuple(KNOWN_MD5["mnist"])  # the four file names, without .gz


def make_toy(name: str, n: int = 100_000, seed: int = 0) -> Dataset:
    """n points of the toy mixture `name` ("toy-ring", "toy-grid" or "toy-1d"), the same for the same seed."""
    if name not in TOY_SPECS:
        raise UserError(f"unknown toy dataset {name!r}; choose one of {', '.join(TOY_SPECS)}")
    if n < 1:
        raise UserError(f"data.n_toy must be at least 1, got {n}")
    x, y, modes, sigma = sample_toy(name, n, seed)
    return Dataset(name=name, kind="toy", x=x, y=y, class_names=None, source="generated", modes=modes,
                   sigma=sigma)


def load_dataset(spec: str, *, root: str | None = None, split: str = "train", resolution: int | None = None,
                 channels: int | None = None, n_toy: int = 100_000, seed: int = 0,
                 on_bad_file: str = "error", attributes: list[str] | None = None, layout: str = "auto",
                 domain_b: str | None = None, captions: bool = True, aspect: str = "crop") -> Dataset:
    """Load a dataset by name (see DATASET_NAMES) or from a path: a folder of images, a folder of IDX
    files, or one IDX images file. resolution/channels resize and convert images (None keeps them);
    n_toy/seed size and seed toy mixtures; on_bad_file="skip" skips unreadable images. An image folder
    with an attribute file gets Dataset.attributes; `attributes` names the ones kept (None or empty: all),
    and a non-empty `attributes` for data without an attribute file is a UserError. A folder laid out for
    image-to-image translation (A/ and B/, trainA/ and trainB/, or layout="side_by_side": data/pairs.py) gives
    Dataset.inputs (domain A) beside x (domain B); so does `domain_b`, a second folder of unpaired images
    beside the folder `spec` (domain A). An image folder's captions (data/caption_files.py) are read unless
    `captions` is False. `aspect` fits images of another shape to the resolution (data/fitting.py: crop, pad or
    keep)."""
    _check_options(split, resolution, channels, on_bad_file, aspect)
    if layout not in LAYOUTS:
        raise UserError(f"data.layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    if domain_b is not None:
        got = load_two_folders(Path(spec).expanduser(), Path(domain_b).expanduser(), split, resolution, channels,
                               on_bad_file, aspect)
        return Dataset(f"folders:{spec}+{domain_b}", "image", got["x"], None, None, f"{spec} + {domain_b}",
                       skipped=len(got["skipped_files"]), skipped_files=got["skipped_files"], inputs=got["inputs"],
                       paired=False)
    if attributes and spec in DATASET_NAMES:
        raise _no_attribute_file(spec)
    if spec in TOY_SPECS:
        if aspect != "crop":
            raise UserError(f"data.aspect={aspect} fits images to data.resolution; {spec} is toy data (points): remove it")
        return make_toy(spec, n_toy, seed)
    if spec == "stacked-mnist":
        return stack_digits(_load_known_idx("mnist", root, split), seed)
    if spec in TRANSLATION_TASKS:
        return make_translation_task(spec, root, split)
    if spec == "moving-mnist":
        from ganforge.data.moving_mnist import sequences

        mnist = _load_known_idx("mnist", root, split)
        return Dataset(spec, "video", sequences(mnist.x, split, seed), None, None, f"generated from {mnist.source}")
    if spec == "fashion-captions":  # Fashion-MNIST by another name: captions are drawn per batch (data/captions.py)
        base = _load_known_idx("fashion-mnist", root, split)
        return Dataset(spec, "image", base.x, base.y, base.class_names, base.source)
    if spec == "fashion-mnist-10k":
        x, y = load_idx_pair(EMBEDDED / "t10k-images-idx3-ubyte.gz", EMBEDDED / "t10k-labels-idx1-ubyte.gz")
        ds = Dataset(spec, "image", x, y, list(FASHION_CLASSES), "embedded")
    elif spec in KNOWN_MD5:
        ds = _load_known_idx(spec, root, split)
    else:
        ds = _load_path(spec, split, resolution, channels, on_bad_file, attributes, layout, captions, aspect)
        if ds.inputs is not None:
            return ds  # both sides sized and converted by data/pairs.py
    stored = {(ds.x.shape[-1], ds.x.shape[-2]): len(ds.x)}
    ds.x = _resize(ds.x, resolution, aspect)
    if ds.kind == "image":
        ds.fitting = describe_fitting(ds.image_sizes or stored, (ds.x.shape[-1], ds.x.shape[-2]), aspect)
    if channels == 3 and ds.x.shape[1] == 1:
        ds.x = ds.x.repeat(1, 3, 1, 1)
    return ds


def data_layout(spec: str, split: str = "train", layout: str = "auto", domain_b: str | None = None) -> str | None:
    """What `spec` holds, told without decoding an image: "paired" or "unpaired" image-to-image data, "single"
    (images, points or clips, one kind), or None where only loading can tell (a path that does not exist).
    A family refuses the wrong kind (Family.check_data) before a long load or a complaint about image sizes."""
    if domain_b is not None:
        return "unpaired"
    if spec in TRANSLATION_TASKS:
        return "unpaired" if spec == "mnist-colour" and split == "train" else "paired"
    if spec in DATASET_NAMES:
        return "single"
    path = Path(spec.split(":", 1)[1] if spec.startswith(("folder:", "idx:")) else spec).expanduser()
    if not path.exists():
        return None
    found = translation_layout(path, layout) if path.is_dir() else None
    if found == "unpaired":
        return None if split == "test" else "unpaired"  # test images with matching names are measured as pairs
    return "single" if found is None else "paired"


def _check_options(split: str, resolution: int | None, channels: int | None, on_bad_file: str,
                   aspect: str = "crop") -> None:
    if split not in ("train", "test"):
        raise UserError(f"data.split must be 'train' or 'test', got {split!r}")
    if resolution is not None and (not isinstance(resolution, int) or resolution < 1):
        raise UserError(f"data.resolution must be a positive whole number of pixels, got {resolution!r}")
    if channels not in (None, 1, 3):
        raise UserError(f"data.channels must be 1 (gray) or 3 (RGB), got {channels!r}")
    if on_bad_file not in ("error", "skip"):
        raise UserError(f"data.on_bad_file must be 'error' or 'skip', got {on_bad_file!r}")
    if aspect not in ASPECTS:
        raise UserError(f"data.aspect must be one of {', '.join(ASPECTS)}, got {aspect!r}")


def data_roots() -> list[Path]:
    """Where ganforge looks for files it does not ship (datasets, the FID Inception), in order: $GANFORGE_DATA
    when set, then ~/.cache/ganforge/data."""
    env = os.environ.get("GANFORGE_DATA")
    return ([Path(env).expanduser()] if env else []) + [Path.home() / ".cache" / "ganforge" / "data"]


def _search_folders(name: str, root: str | None) -> list[Path]:
    """Where a named IDX dataset may live: root (or root/<name>) if given, else <name> in each of data_roots()."""
    if root is not None:
        return [Path(root).expanduser(), Path(root).expanduser() / name]
    return [folder / name for folder in data_roots()]


def _find_file(folder: Path, stem: str) -> Path | None:
    """folder/stem as .gz or unpacked, also under the "train-images.idx3-ubyte" spelling."""
    dotted = stem.replace("-idx", ".idx")
    for name in (stem + ".gz", stem, dotted + ".gz", dotted):
        if (folder / name).is_file():
            return folder / name
    return None


def _load_known_idx(name: str, root: str | None, split: str) -> Dataset:
    prefix = "train" if split == "train" else "t10k"
    stems = [s for s in IDX_FILES if s.startswith(prefix)]
    folders = _search_folders(name, root)
    for folder in folders:
        images, labels = (_find_file(folder, s) for s in stems)
        if images is not None and labels is not None:
            break
    else:
        raise UserError(f"{name}: {' and '.join(s + '.gz' for s in stems)} not found in "
                        f"{', '.join(str(f) for f in folders)}; {name} needs the four files "
                        f"{', '.join(s + '.gz' for s in IDX_FILES)} (or unpacked, without .gz), from "
                        f"{SOURCES[name]} (the md5 of each file's unpacked data is checked when read): put "
                        "them there or pass --set data.root=PATH")
    payloads = []
    for path, stem in ((images, stems[0]), (labels, stems[1])):
        data = read_idx_bytes(path)
        got, want = hashlib.md5(data).hexdigest(), KNOWN_MD5[name][stem]
        if got != want:
            raise UserError(f"{path}: corrupt or not the {name} {stem} file (md5 of its unpacked data is "
                            f"{got}, expected {want}); download it again")
        payloads.append(data)
    x, y = load_idx_pair(images, labels, payloads=(payloads[0], payloads[1]))
    return Dataset(name, "image", x, y, list(KNOWN_CLASSES[name]), str(images.parent))


def stack_digits(mnist: Dataset, seed: int = 0) -> Dataset:
    """Stacked MNIST: image i puts three MNIST digits, drawn at random (seeded) from `mnist`, in the R, G and
    B channels; its label is 100 r + 10 g + b, one of 1,000 modes."""
    g = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(mnist.x), (len(mnist.x), 3), generator=g)
    x = mnist.x[picks, 0]  # N x 3 x 28 x 28
    y = (mnist.y[picks] * torch.tensor([100, 10, 1])).sum(1)
    return Dataset("stacked-mnist", "image", x, y, [f"{k:03d}" for k in range(1000)], mnist.source)


def make_translation_task(name: str, root: str | None, split: str) -> Dataset:
    """One of TRANSLATION_TASKS, built from the IDX files: the same images for the same name and split."""
    from ganforge.data import translation as tasks

    base = _load_known_idx("mnist" if name == "mnist-colour" else "fashion-mnist", root, split)
    if name == "fashion-edges":
        x = tasks.pad_to(base.x, 32)
        return Dataset(name, "image", x, base.y, base.class_names, base.source,
                       inputs=tasks.pad_to(tasks.sobel_edges(base.x), 32), input_labels=base.y, crop=(28, 28))
    if name in ("fashion-sr4", "fashion-sr2"):
        factor = int(name[-1])
        return Dataset(name, "image", base.x, base.y, base.class_names, base.source,
                       inputs=tasks.area_downsample(base.x, factor), input_labels=base.y)
    # mnist-colour: train on disjoint halves (A: gray, B: coloured); test: every digit with its counterpart
    seed = {"train": 0, "test": 1}[split]
    if split == "test":
        return Dataset(name, "image", tasks.colour_digits(base.x, seed), base.y, base.class_names, base.source,
                       inputs=base.x, input_labels=base.y)
    half = len(base.x) // 2
    return Dataset(name, "image", tasks.colour_digits(base.x[half:], seed), base.y[half:], base.class_names,
                   base.source, inputs=base.x[:half], input_labels=base.y[:half], paired=False)


def _unknown_name(spec: str, path: Path) -> UserError:
    """A bare word that is neither a dataset name nor a file or folder: say both, since either was meant."""
    close = difflib.get_close_matches(spec, list(DATASET_NAMES), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return UserError(f"{spec!r} is not a dataset name{hint}, and there is no file or folder {path.absolute()}; "
                     f"dataset names: {', '.join(DATASET_NAMES)}; or give the path of an image folder, an IDX "
                     "folder or an IDX images file")


def _no_attribute_file(name: str) -> UserError:
    return UserError(f"data.attributes is set but {name} has no attribute file; put attributes.csv "
                     "(file,name1,name2,...) in the image folder")


def _load_path(spec: str, split: str, resolution: int | None, channels: int | None,
               on_bad_file: str, attributes: list[str] | None = None, layout: str = "auto",
               captions: bool = True, aspect: str = "crop") -> Dataset:
    """A dataset from a path (an image folder or archive, IDX files); "folder:" and "idx:" prefixes (as in
    Dataset.name) are accepted."""
    prefixed = spec.startswith(("folder:", "idx:"))
    text = spec.split(":", 1)[1] if prefixed else spec
    path = Path(text).expanduser()
    if not path.exists():
        if not prefixed and "/" not in text and os.sep not in text and not text.startswith((".", "~")):
            raise _unknown_name(spec, path)  # a name, or a folder here?
        raise UserError(f"{path}: no such file or folder; check the path (or use a dataset name: "
                        f"{', '.join(DATASET_NAMES)})")
    found = translation_layout(path, layout) if path.is_dir() else None
    if layout != "auto" and found is None:
        raise UserError(f"data.layout={layout} needs a folder of images, and {path} is a file")
    if found is not None:
        if attributes:
            raise _no_attribute_file(str(path))
        got = load_translation_folder(path, found, split, resolution, channels, on_bad_file, aspect)
        return Dataset(f"folder:{text}", "image", got["x"], None, None, str(path.resolve()),
                       skipped=len(got["skipped_files"]), skipped_files=got["skipped_files"], inputs=got["inputs"],
                       paired=got["paired"])
    if path.is_file() and not is_archive(path):
        images = path
    else:
        try:
            idx_present = path.is_dir() and any(is_idx_images_name(p.name) for p in path.iterdir() if p.is_file())
        except OSError as exc:
            raise UserError(f"{path}: cannot list the folder ({exc.strerror or exc}); "
                            "check its permissions") from exc
        if not idx_present:  # a folder of images, or an archive of one
            got = load_image_folder(path, resolution, channels, on_bad_file, attributes=attributes, captions=captions,
                                    aspect=aspect)
            return Dataset(f"folder:{text}", "image", got.x, got.y, got.class_names, str(path.resolve()),
                           skipped=got.skipped, attributes=got.attributes, attr_names=got.attr_names,
                           skipped_files=got.skipped_files, captions=got.captions, caption_texts=got.caption_texts,
                           image_sizes=dict(got.sizes), notes=got.notes)
        images = find_images_file(path, split)
    if attributes:
        raise _no_attribute_file(str(path))
    labels = labels_file_for(images)
    x, y = load_idx_pair(images, labels)
    # Unknown data: name the classes by their index when the labels look like class indices.
    indices = y is not None and len(y) > 0 and y.min() >= 0 and y.max() < 10_000
    class_names = [str(i) for i in range(int(y.max()) + 1)] if indices else None
    return Dataset(f"idx:{text}", "image", x, y, class_names, str(images.resolve()))


def _resize(x: torch.Tensor, resolution: int | None, aspect: str = "crop") -> torch.Tensor:
    """Images held as one tensor fitted to `resolution` as `aspect` says (data/fitting.py)."""
    if resolution is None and aspect != "pad":
        return x
    return fit_tensor(x, target_size(x.shape[-1], x.shape[-2], resolution, aspect), aspect)
