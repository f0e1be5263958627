"""The pipeline runner: recipes, stage discovery, progress and the run summary."""
