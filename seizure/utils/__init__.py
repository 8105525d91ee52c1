"""Small shared helpers: atomic file writes, seeding, progress bars, error messages."""
