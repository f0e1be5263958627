"""Stratified sampling of turn samples to a target size, with caps and target shares per stratum."""
