"""ganforge: train, sample, evaluate and explore generative adversarial networks."""

__version__ = "0.1.0"
