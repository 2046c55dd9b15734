"""The durable store: SQLAlchemy 2 engine, the shared metadata, Alembic migrations.

Each area keeps its tables in its own module (``stalwart.audit``, the dead-letter store,
history, schedules) on the one :data:`metadata`; :mod:`stalwart.db.migrate` brings a
database to the current schema (``stalwart db upgrade``).

Nothing is imported here, so that reading the schema revision (:data:`.migrate.HEAD`)
does not load SQLAlchemy: import :mod:`stalwart.db.engine` for the engine and metadata.
"""
