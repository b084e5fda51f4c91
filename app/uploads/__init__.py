"""Strategy uploads: unpacking with limits, validation and smoke tests, the version store."""
