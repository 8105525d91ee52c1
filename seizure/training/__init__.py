"""Training loop, data feeding from the cache, checkpoints."""
