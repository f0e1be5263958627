"""A/B analysis of experiments from the lake (`flywheel ab`); docs/ab.md."""
