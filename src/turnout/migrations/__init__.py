"""The I/O shell of turnout's migration safety: reading migration files, rendering
Alembic revisions offline, and PostgreSQL access for check-compat and backfills.

The decisions live in :mod:`turnout.core.migrations`; this package feeds them.
"""
