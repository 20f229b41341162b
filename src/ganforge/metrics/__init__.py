"""Feature extractors and metrics: plain functions of features or samples, each with its protocol."""
