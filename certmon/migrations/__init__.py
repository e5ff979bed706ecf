"""Alembic migrations (script location `certmon:migrations`)."""
