"""Situation reports (situasjonsbilde) for the ministry: figures, assessment, approval, HTML and PDF."""
