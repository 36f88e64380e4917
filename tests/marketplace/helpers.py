"""Helpers of the marketplace tests (not fixtures): who a request is, by a test header."""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.identity import IdentityProvider, User

USER_HEADER = "X-Test-User"


class HeaderIdentityProvider(IdentityProvider):
    """The token authenticates; ``X-Test-User`` then picks who the caller is (tests only)."""

    async def get_user(self, handler: Any) -> User | None:  # type: ignore[override]
        user = await self._get_user(handler)
        name = handler.request.headers.get(USER_HEADER)
        if user is None or not name:
            return user
        return User(username=name, name=name, display_name=name)


def as_user(name: str) -> dict[str, str]:
    return {USER_HEADER: name}
