"""Alembic environment: run programmatically by provisioner.store.db.Database.upgrade (no alembic.ini)."""

from alembic import context

from provisioner.store.models import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through provisioner.store.db.Database.upgrade()")

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
