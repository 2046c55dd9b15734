"""The durable store: SQLAlchemy 2 engine, the shared metadata, Alembic migrations.

Each area keeps its tables in its own module (``stalwart.audit``, the dead-letter store,
history, schedules) on the one :data:`metadata`; :mod:`stalwart.db.migrate` brings a
database to the current schema (``stalwart db upgrade``).
"""

from stalwart.db.engine import create_engine_for, metadata

__all__ = ["create_engine_for", "metadata"]
