"""Persistence: SQLAlchemy models, Alembic migrations and artifact files. Imports no other nowbot package."""
