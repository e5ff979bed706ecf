"""Alerts (varsler): policy, composition, the outbox and SMTP delivery."""
