"""Keeping what customers send besides text (photos, voice, video) on the
platform channels: download it with the platform's API, check it by its
bytes, store it with kefu.core.media, and answer with the acknowledgement.

A download that fails (the platform refuses, the file is too large, a host
not on the allowlist) still keeps the platform's reference on the ticket:
the agent sees that something was sent, and the customer is not told it was
lost. Only a failing desk database raises (the caller asks for a resend)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from kefu.clients.media_download import Downloaded
from kefu.core import media
from kefu.core.db import ThreadedSessions
from kefu.core.settings import load_media_settings

logger = logging.getLogger(__name__)


def media_dir() -> Path:
    return load_media_settings().directory


def url_hosts() -> tuple[str, ...]:
    return load_media_settings().url_hosts


def url_allowed(url: str, hosts: tuple[str, ...]) -> bool:
    """http(s) to a host on the allowlist (`*.alicdn.com`: any subdomain), so
    a message cannot make the server fetch whatever it names (SSRF)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or not host or parts.username or parts.password:
        return False
    for allowed in hosts:
        if allowed.startswith("*."):
            if host.endswith(allowed[1:]):
                return True
        elif host == allowed:
            return True
    return False


async def keep_download(
    store: ThreadedSessions,
    directory: Path,
    channel: str,
    sender_id: str,
    kind: str,
    fetch: Callable[[], Awaitable[Downloaded]] | None,
    source_ref: str | None,
) -> str:
    """Download (when `fetch` is given) and keep; the acknowledgement text."""
    data: bytes | None = None
    content_type: str | None = None
    if fetch is not None:
        try:
            got = await fetch()
            if got.data is not None:
                data = got.data
                content_type = media.sniff(data) or "application/octet-stream"
                if not data or (kind == "image" and content_type not in media.IMAGE_TYPES):
                    logger.warning(
                        "%s %s from %s is not a picture by its bytes; kept as a reference", channel, kind, sender_id
                    )
                    data, content_type = None, None
            elif got.url:
                source_ref = f"{source_ref} {got.url}" if source_ref else got.url
                content_type = got.content_type
        except Exception as exc:  # refused, too large, unreachable: the reference stays
            logger.warning("%s %s from %s not downloaded: %s", channel, kind, sender_id, exc)
    kept = await store.run(media.keep, directory, channel, sender_id, kind, data, content_type, source_ref)
    return media.acknowledgement(kind, kept.ticket_number)
