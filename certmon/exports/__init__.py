"""Indicator exports (blocklists) for firewalls, SIEMs and partner CERTs: CSV, JSON Lines, STIX 2.1."""
