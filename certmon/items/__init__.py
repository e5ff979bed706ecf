"""Normalised items: advisories, vulnerabilities, indicators and exposures."""
