"""Sources (configured feeds), their runs and health, and the payload archive."""
