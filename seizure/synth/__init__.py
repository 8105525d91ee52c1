"""A synthetic TUSZ-like corpus with known seizures."""
