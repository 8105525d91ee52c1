"""Recordings to cached windows: montages, resampling, filtering, features, the cache."""
