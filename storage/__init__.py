"""Durable storage: SQLAlchemy 2 models, repositories and the unit of work (an adapter around the domain)."""
