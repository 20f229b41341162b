"""The family-agnostic training loop and what it owns: resident data, logging, samples, checkpoints."""
