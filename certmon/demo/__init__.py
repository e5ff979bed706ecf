"""The clearly marked demo scenario: documentation address ranges and domains given to a few real
constituents, demo contacts (mail goes to the local mail folder), and demo users."""
