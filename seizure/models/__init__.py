"""Detectors (CNN front end + recurrent part), their initializers and regularizers."""
