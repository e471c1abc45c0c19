"""Reading a platform's file download (WeChat/WeCom media/get, a shop's
picture URL) with a size limit: a download never holds more than the limit
in memory, whatever the server claims or sends."""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp


class DownloadTooLarge(Exception):
    pass


@dataclass(frozen=True)
class Downloaded:
    """The bytes and the type the server named (only a hint: the caller
    types the file by its bytes), or, for what the platform only links to
    (WeChat video), the link."""

    data: bytes | None
    content_type: str
    url: str | None = None


async def read_limited(resp: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    if resp.content_length is not None and resp.content_length > max_bytes:
        raise DownloadTooLarge(f"{resp.content_length} bytes is over the {max_bytes} byte limit")
    data = bytearray()
    async for chunk in resp.content.iter_chunked(64 * 1024):
        data.extend(chunk)
        if len(data) > max_bytes:
            raise DownloadTooLarge(f"over the {max_bytes} byte limit")
    return bytes(data)


def is_json_answer(resp: aiohttp.ClientResponse) -> bool:
    """media/get answers errors (and video links) as JSON, files as files."""
    ctype = resp.headers.get("Content-Type", "").lower()
    return "json" in ctype or ctype.startswith("text/plain")


async def download_url(url: str, max_bytes: int, timeout: float = 20) -> Downloaded:
    """GET a picture URL the caller has checked; redirects are not followed
    (one could lead anywhere the check did not allow)."""
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
        session.get(url, allow_redirects=False) as resp,
    ):
        if resp.status != 200:
            raise aiohttp.ClientResponseError(
                resp.request_info, resp.history, status=resp.status, message="picture not served"
            )
        return Downloaded(await read_limited(resp, max_bytes), resp.headers.get("Content-Type", ""))
