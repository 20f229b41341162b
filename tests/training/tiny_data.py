"""The shared datasets cut to their first images, so a test trains a family on its real data task (edges,
colour, captions, clips) without building it from all 60,000 images. Used in-process and by test subprocesses
(`import tiny_data; tiny_data.shrink()`)."""

import dataclasses

IMAGES = 600  # of each split
CLIPS = 32  # Moving MNIST clips drawn, not its 10,000


def shrink(setattr=setattr) -> None:
    """Patch ganforge's readers of the shared IDX files; `setattr` may be a pytest monkeypatch's, to undo it."""
    from ganforge.data import moving_mnist, registry

    read = registry._load_known_idx

    def first_images(name, root, split):
        ds = read(name, root, split)
        return dataclasses.replace(ds, x=ds.x[:IMAGES], y=ds.y[:IMAGES])

    setattr(registry, "_load_known_idx", first_images)
    setattr(moving_mnist, "N_TRAIN", CLIPS)
