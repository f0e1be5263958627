"""Storage layer of the flywheel platform: table schemas, Parquet I/O, the DuckDB catalog, the run ledger.

Nothing here imports curation, labeling_app or train, and nothing heavy is imported at package import,
so that `flywheel sql` starts fast.
"""

__version__ = "0.1.0"
