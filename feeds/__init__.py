"""Feed adapters (one module per format), the shared fetcher and the source catalogue."""
