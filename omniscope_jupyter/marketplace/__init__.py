"""The marketplace: a shared catalog of published plugins with search, ranking, ratings,
reviews, installs and updates from it, and other OmniScope marketplaces as remote sources."""

from .catalog import Catalog, ChecksumMismatch
from .remote import RemoteUnavailable
from .service import Marketplace

__all__ = ["Catalog", "ChecksumMismatch", "Marketplace", "RemoteUnavailable"]
