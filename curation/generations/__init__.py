"""Flywheel generations: records linking data, models, evals and A/B results, with a ship decision."""
