"""Scoring (NEDC OVLP/TAES/EPOCH/DPALIGN, SzCORE), post-processing, evaluation reports."""
