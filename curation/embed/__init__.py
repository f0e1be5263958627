"""Sentence embeddings of texts, cached by text hash in Parquet: a rerun encodes only new texts."""
