"""Incidents (hendelser): analyst-run cases with links, a timeline and reporting clocks."""
