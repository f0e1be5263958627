"""Exact and near-duplicate detection over Arrow data: normalization, shingles, MinHash, LSH banding as a
columnar group-by, connected components and a deterministic representative per cluster."""
