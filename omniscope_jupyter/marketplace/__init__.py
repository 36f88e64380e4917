"""The marketplace: a shared catalog of published plugins with search, ranking, ratings,
reviews, installs and updates from it, and other OmniScope marketplaces as remote sources."""

from ..errors import ChecksumMismatch, RemoteUnavailable
from .catalog import Catalog, bundled_examples_dir
from .service import Marketplace

__all__ = [
    "Catalog",
    "ChecksumMismatch",
    "Marketplace",
    "RemoteUnavailable",
    "bundled_examples_dir",
]
