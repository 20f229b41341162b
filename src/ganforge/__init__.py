"""ganforge: train, sample, evaluate and explore generative adversarial networks.

The Python API (see ganforge.api): train, load, sample, translate, project, explore, evaluate,
report, export, studio; Run and Generator.
"""

__version__ = "0.1.0"

from ganforge.api import (
    Run,
    evaluate,
    explore,
    export,
    load,
    project,
    report,
    sample,
    studio,
    train,
    translate,
)


def __getattr__(name: str):
    if name == "Generator":  # imports torch: only when asked for, so `import ganforge` stays fast
        from ganforge.generator import Generator

        return Generator
    raise AttributeError(f"module 'ganforge' has no attribute {name!r}")


__all__ = ["Generator", "Run", "__version__", "evaluate", "explore", "export", "load", "project", "report", "sample",
           "studio", "train", "translate"]
