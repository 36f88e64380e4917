"""Atomic changes of the store: files moved into place and rows written as one step.

The plugin lifecycle (installed versions) and the marketplace catalog (published archives) both
change files and rows together. Each change prepares its files in ``staging/`` (same file
system), then under the store lock moves them into place with one ``os.replace`` and writes the
rows in one transaction right after. A crash between the two leaves a file no row owns, which
``discard_unowned`` removes at the next start: the store shows the old state or the new one.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

from .database import StoreLayout

log = logging.getLogger(__name__)


class StoreTransactions:
    """Atomic file + row changes on one store (its folder layout and its database)."""

    def __init__(self, layout: StoreLayout, sessions: sessionmaker[Session]) -> None:
        self.layout = layout
        self.sessions = sessions

    def store_atomically(
        self,
        source: Path,
        target: Path,
        refuse: Callable[[], None],
        record: Callable[[Session], None],
    ) -> None:
        """Move ``source`` to ``target`` and ``record`` it in one transaction, under the lock.

        ``refuse`` re-checks, now that the lock is held, what was checked before it (another
        process may have stored the same thing meanwhile). When the transaction fails the
        moved file or folder is discarded; a crash between the move and the commit leaves it
        for ``discard_unowned`` to remove.
        """
        with self.layout.locked():
            refuse()
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(source, target)
            try:
                with self.sessions.begin() as s:
                    record(s)
            except BaseException:
                self.discard(target)
                raise

    def discard(self, path: Path) -> None:
        """Remove a file or folder by renaming it into the trash first (a rename is atomic)."""
        if not path.exists() and not path.is_symlink():
            return
        doomed = self.layout.trash / uuid.uuid4().hex
        os.replace(path, doomed)
        if doomed.is_dir() and not doomed.is_symlink():
            shutil.rmtree(doomed, ignore_errors=True)
        else:
            doomed.unlink(missing_ok=True)

    def discard_unowned(
        self, found: Iterable[Path], owner: InstrumentedAttribute[str], *, locked: bool = False
    ) -> list[str]:
        """Remove each of ``found`` that no row's ``owner`` path column names; return them.

        ``locked``: the caller already holds the store lock.
        """
        if not locked:
            with self.layout.locked():
                return self.discard_unowned(found, owner, locked=True)
        with self.sessions() as s:
            known = set(s.scalars(select(owner)))
        removed = []
        for path in list(found):
            if str(path.relative_to(self.layout.data_dir)) not in known:
                self.discard(path)
                removed.append(str(path))
        return removed


__all__ = ["StoreTransactions"]
