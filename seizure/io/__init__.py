"""Reading recordings and annotations: EDF/BDF files, channel labels, annotation formats."""
