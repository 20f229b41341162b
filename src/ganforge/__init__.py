"""ganforge: train, sample, evaluate and explore generative adversarial networks.

The Python API (see ganforge.api): train, load, sample, translate, explore, evaluate, report,
export; Run and Generator.
"""

__version__ = "0.1.0"

from ganforge.api import Generator, Run, evaluate, explore, export, load, report, sample, train, translate

__all__ = ["Generator", "Run", "__version__", "evaluate", "explore", "export", "load", "report", "sample", "train", "translate"]
