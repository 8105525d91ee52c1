"""seizure: EEG seizure detection from EDF to sensitivity against false alarms per 24 hours."""

__version__ = "0.1.0"
