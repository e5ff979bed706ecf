"""The constituent registry: organisations, their assets and contacts."""
