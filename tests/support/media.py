"""Real small pictures for the media tests, and multipart uploads."""

from __future__ import annotations

import struct
import uuid
import zlib

from tests.support.scaled_stack import http


def png_bytes(width: int = 64, height: int = 48, rgb: tuple[int, int, int] = (30, 120, 220)) -> bytes:
    """A valid PNG: a coloured block with a lighter diagonal band (visible in screenshots)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b""
    for y in range(height):
        row = b"\x00"
        for x in range(width):
            band = abs(x - y * width // height) < 6
            row += bytes((255, 220, 80) if band else rgb)
        rows += row
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def multipart(field: str, filename: str, data: bytes, content_type: str = "image/jpeg") -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def upload(desk_url: str, session_id: str, data: bytes, filename: str = "photo.jpg", content_type: str = "image/jpeg"):
    body, ctype = multipart("file", filename, data, content_type)
    return http("POST", f"{desk_url}/api/widget/{session_id}/media", raw=body, headers={"Content-Type": ctype})


def get_bytes(url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes, dict[str, str]]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)
