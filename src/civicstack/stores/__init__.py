"""Storage adapters: SQLAlchemy 2 tables and repositories over SQLite (default) and PostgreSQL.

The domain never imports this package. Each component owns a module here (its tables on the
shared :data:`civicstack.stores.db.metadata`) and an Alembic migration branch labelled with the
component's name; ``upgrade heads`` brings every branch up to date.
"""
