"""REST handlers of the marketplace: parse the request, call ``PluginSystem``, reply.

Routes are relative to ``/api/plugins`` (``marketplace_routes``) and must be registered before
the ``/{plugin_id}`` routes. Every verb is ``@web.authenticated`` then ``@authorized``; a few
writes also need the ``omniscope:plugins:marketplace-admin`` resource (featuring a plugin,
publishing over another user's plugin). Domain errors map to HTTP in ``PluginsAPIHandler``.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..errors import Forbidden, InvalidRequest
from .base import AUTH_RESOURCE, PluginsAPIHandler
from .upload import StreamingUploadHandler

#: Authorizes curation (featured flag) and publishing over another user's plugin.
ADMIN_RESOURCE = AUTH_RESOURCE + ":marketplace-admin"
_ID = r"(?P<plugin_id>[^/]+)"
_VERSION = r"(?P<version>[^/]+)"
_CHUNK = 1 << 16


class MarketplaceHandler(PluginsAPIHandler):
    """Base of the marketplace handlers: who curates."""

    async def is_admin(self) -> bool:
        return await self.is_authorized_for("write", ADMIN_RESOURCE)


class PublishHandler(StreamingUploadHandler, MarketplaceHandler):
    """``POST /api/plugins/marketplace/publish``: multipart ``file`` into the catalog."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        package = self.uploaded_file()
        result = await self.in_thread(
            self.system.publish,
            package,
            work="install",
            user=self.username,
            admin=await self.is_admin(),
            progress=lambda step, detail: self.log.info("publish %s: %s", step, detail),
        )
        self.reply(result, 201)


class SearchHandler(MarketplaceHandler):
    """``POST /api/plugins/marketplace/search``: a read, though a POST (the spec's verb)."""

    @web.authenticated
    @authorized(action="read")
    async def post(self) -> None:
        self.reply(await self.in_thread(self.system.search, self.json_body(), work="remote"))


class FeaturedHandler(MarketplaceHandler):
    """``GET /api/plugins/marketplace/featured?limit=``."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        limit = self.query_int("limit", 0, 0, 100) or None
        self.reply(await self.in_thread(self.system.featured, limit))


class CategoriesHandler(MarketplaceHandler):
    """``GET /api/plugins/marketplace/categories``."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        self.reply(await self.in_thread(self.system.categories))


class MarketInstallHandler(MarketplaceHandler):
    """``POST /api/plugins/marketplace/install {"name", "version"?, "source"?}``."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.json_body()
        self.reply(
            await self.in_thread(
                self.system.install_from_marketplace, body, user=self.username, work="install"
            ),
            201,
        )


class CatalogPluginHandler(MarketplaceHandler):
    """``GET /api/plugins/marketplace/plugins/{id}``: every published version, with sha256."""

    @web.authenticated
    @authorized
    async def get(self, plugin_id: str) -> None:
        self.reply(await self.in_thread(self.system.catalog_entry, plugin_id))


class FeaturedFlagHandler(MarketplaceHandler):
    """``PUT /api/plugins/marketplace/plugins/{id}/featured {"featured": bool}`` (admin)."""

    @web.authenticated
    @authorized
    async def put(self, plugin_id: str) -> None:
        if not await self.is_admin():
            raise Forbidden("Only a marketplace admin may change which plugins are featured.")
        featured = self.json_body().get("featured")
        if not isinstance(featured, bool):
            raise InvalidRequest("featured must be true or false.")
        self.reply(await self.in_thread(self.system.set_featured, plugin_id, featured))


class ArchiveHandler(MarketplaceHandler):
    """``GET /api/plugins/marketplace/plugins/{id}/versions/{version}/archive``.

    The published archive as is, for other marketplaces; its sha256 is in the header
    ``X-Content-SHA256`` and in the catalog details, and the client checks it. Counts a download.
    """

    @web.authenticated
    @authorized
    async def get(self, plugin_id: str, version: str) -> None:
        path, sha256, size = await self.in_thread(self.system.open_archive, plugin_id, version)
        self.set_header("Content-Type", "application/gzip")
        self.set_header("Content-Length", str(size))
        self.set_header("X-Content-SHA256", sha256)
        self.set_header(
            "Content-Disposition", f'attachment; filename="{plugin_id}-{version}.tar.gz"'
        )
        # Counted before sending: a client may act on the last byte before we finish.
        await self.in_thread(self.system.count_download, plugin_id, version)
        with path.open("rb") as f:
            while chunk := await self.in_thread(f.read, _CHUNK):
                self.write(chunk)
                await self.flush()
        self.finish(set_content_type="application/gzip")


class RateHandler(MarketplaceHandler):
    """``POST /api/plugins/{id}/rate {"rating": 1..5}``: one rating per user."""

    @web.authenticated
    @authorized
    async def post(self, plugin_id: str) -> None:
        body = self.json_body()
        if "rating" not in body:
            raise InvalidRequest("rating is required: a whole number from 1 to 5.")
        self.reply(
            await self.in_thread(self.system.rate, plugin_id, body["rating"], user=self.username)
        )


class ReviewHandler(MarketplaceHandler):
    """``POST /api/plugins/{id}/review {"text", "rating"?, "version"?}``; ``GET`` lists, paged.

    Also served as ``GET /api/plugins/{id}/reviews``.
    """

    @web.authenticated
    @authorized
    async def post(self, plugin_id: str) -> None:
        body = self.json_body()
        unknown = sorted(set(body) - {"text", "rating", "version"})
        if unknown:
            raise InvalidRequest(f"Unknown field(s): {', '.join(unknown)}.")
        result = await self.in_thread(
            self.system.review,
            plugin_id,
            body.get("text"),
            user=self.username,
            rating=body.get("rating"),
            version=body.get("version"),
        )
        self.reply(result, 201)

    @web.authenticated
    @authorized
    async def get(self, plugin_id: str) -> None:
        page = self.query_int("page", 1, 1, 100_000)
        page_size = self.query_int("page_size", 20, 1, 100)
        self.reply(
            await self.in_thread(self.system.reviews, plugin_id, page=page, page_size=page_size)
        )


class ReviewListHandler(MarketplaceHandler):
    """``GET /api/plugins/{id}/reviews?page=&page_size=`` (same as ``GET .../review``)."""

    get = ReviewHandler.get


def marketplace_routes() -> list[tuple[str, type[PluginsAPIHandler], dict[str, Any]]]:
    """Routes relative to ``/api/plugins``; register them before the ``/{plugin_id}`` ones."""
    return [
        ("/marketplace/publish", PublishHandler, {}),
        ("/marketplace/search", SearchHandler, {}),
        ("/marketplace/featured", FeaturedHandler, {}),
        ("/marketplace/categories", CategoriesHandler, {}),
        ("/marketplace/install", MarketInstallHandler, {}),
        (f"/marketplace/plugins/{_ID}", CatalogPluginHandler, {}),
        (f"/marketplace/plugins/{_ID}/featured", FeaturedFlagHandler, {}),
        (f"/marketplace/plugins/{_ID}/versions/{_VERSION}/archive", ArchiveHandler, {}),
        (f"/{_ID}/rate", RateHandler, {}),
        (f"/{_ID}/review", ReviewHandler, {}),
        (f"/{_ID}/reviews", ReviewListHandler, {}),
    ]
