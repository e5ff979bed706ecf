"""certmon: threat-feed collection, matching and alerting for Helse- og KommuneCERT."""

__version__ = "0.1.0"
