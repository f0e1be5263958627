"""Stages that turn traffic into tables and releases, the pipeline runner and its recipe."""
