"""Alembic environment: run revisions on the engine the caller hands over."""
from alembic import context

from runtime.data.tables import metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True,
                      version_table="loom_alembic_version")
    context.run_migrations()
