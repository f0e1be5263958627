"""Topic clusters over embeddings (k-means), their labels (most distinctive terms) and semantic pruning of
near-paraphrases inside each cluster."""
