"""Alembic environment of the CRM: its own version table beside Stalwart's."""

from alembic import context

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        version_table="crm_alembic_version",
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
