"""A stable identity for the holder of the server's token.

jupyter_server gives every token-authenticated request without a login cookie a new random
user, so with ``curl -H "Authorization: token ..."`` each call would be someone else: ratings
("one per user") would pile up and the version history would name strangers. On a server with
one shared token, the token holder is one person; this provider names them
``token_username`` (default: the OS account running the server). Multi-user deployments keep
their own identity provider (JupyterHub's), which this does not replace.
"""

from __future__ import annotations

import getpass

from jupyter_server.auth.identity import IdentityProvider, User
from tornado import web
from traitlets import Unicode, default


class TokenUserIdentityProvider(IdentityProvider):
    """``IdentityProvider`` whose token-authenticated user is always the same named user."""

    token_username = Unicode(
        help="Username of whoever holds the server's token. Default: the OS account."
    ).tag(config=True)

    @default("token_username")
    def _default_token_username(self) -> str:
        try:
            return getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (some containers)
            return "token-user"

    def generate_anonymous_user(self, handler: web.RequestHandler) -> User:
        return self._token_user()

    def user_for_token(self, token: str) -> User:
        """The user who typed the token into the ``/login`` form: the token holder.

        jupyter_server's base ``process_login_form`` calls this, but only its legacy provider
        defines it; without it logging in through the page answered 500.
        """
        return self._token_user()

    def _token_user(self) -> User:
        name = self.token_username
        return User(username=name, name=name, display_name=name, initials=name[:2].upper())
