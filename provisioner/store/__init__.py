"""Persistence: SQLAlchemy 2 models, the database handle with programmatic Alembic upgrades, repositories."""

from provisioner.store.db import Database, open_database
from provisioner.store.tokens import Role, TokenInfo, create_token, lookup_token

__all__ = ["Database", "Role", "TokenInfo", "create_token", "lookup_token", "open_database"]
