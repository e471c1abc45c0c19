"""The action server's access to the desk database."""

from __future__ import annotations

from kefu.core.db import ThreadedSessions

# One engine per action-server process, built from KEFU_DATABASE_URL on first use.
_store = ThreadedSessions()
in_db = _store.run
