"""Persistence of the plugin system: SQLAlchemy tables and the files beside them."""

from .database import StoreLayout, make_engine, make_sessionmaker
from .orm import Base, Execution, HistoryEntry, Plugin, PluginVersion, Rating, Review

__all__ = [
    "Base",
    "Execution",
    "HistoryEntry",
    "Plugin",
    "PluginVersion",
    "Rating",
    "Review",
    "StoreLayout",
    "make_engine",
    "make_sessionmaker",
]
