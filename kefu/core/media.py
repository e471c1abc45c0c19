"""Photos, voice and video customers send: checked by their bytes, kept under
KEFU_MEDIA_DIR, attached to the customer's open ticket (or their conversation),
and acknowledged.

A file's name on disk is random (never the customer's file name) and its type
is what its first bytes say, never what the sender claims: a `.jpg` holding
HTML is refused, and the desk serves every file with the type found here.
Media is personal data: kefu.core.customer_data exports and erases it.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kefu.core.conversations import open_conversation
from kefu.core.errors import BadRequest, PayloadTooLarge
from kefu.core.models import Media, TicketEvent, local_iso, utcnow
from kefu.core.tickets import recent_open_ticket, ticket_number

MAX_BYTES = 10 * 1024 * 1024
# A message about an open ticket within a day belongs to it (issue 13).
ATTACH_WITHIN = timedelta(days=1)
IMAGE_TYPES = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif"}
OTHER_TYPES = {
    "audio/amr": ".amr",
    "audio/mpeg": ".mp3",
    "audio/silk": ".silk",
    "audio/speex": ".spx",
    "audio/ogg": ".ogg",
    "video/mp4": ".mp4",
    "application/octet-stream": ".bin",
}
KIND_WORDS = {"image": "图片", "voice": "语音", "video": "视频", "file": "文件"}
STORED_NAME = re.compile(r"^[0-9a-f]{32}\.[a-z0-9]{2,4}$")


class MediaRefused(BadRequest):
    """Not a picture (by its bytes), or empty."""


class MediaTooLarge(PayloadTooLarge):
    pass


def sniff(data: bytes) -> str | None:
    """The content type the bytes themselves show, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"#!AMR"):
        return "audio/amr"
    if data.startswith(b"#!SILK") or data.startswith(b"\x02#!SILK"):
        return "audio/silk"
    if data.startswith(b"ID3") or data[:2] in (b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"):
        return "audio/mpeg"
    if data.startswith(b"OggS"):
        return "audio/ogg"
    if data.startswith(b"Speex"):
        return "audio/speex"
    if data[4:8] == b"ftyp":
        return "video/mp4"
    return None


def kind_of(content_type: str | None, default: str = "file") -> str:
    if content_type in IMAGE_TYPES:
        return "image"
    if content_type and content_type.startswith("audio/"):
        return "voice"
    if content_type and content_type.startswith("video/"):
        return "video"
    return default


def check_size(size: int) -> None:
    if size > MAX_BYTES:
        raise MediaTooLarge("文件太大了：图片请不要超过 10 MB。")
    if size == 0:
        raise MediaRefused("没有收到文件内容，请重新选择图片。")


def check_image(data: bytes) -> str:
    """The picture's content type (JPEG/PNG/WebP/GIF by its bytes), else a refusal."""
    check_size(len(data))
    content_type = sniff(data)
    if content_type not in IMAGE_TYPES:
        raise MediaRefused("只支持 JPG、PNG、WebP、GIF 格式的图片，请换一张图片再试。")
    return content_type


def platform_type(data: bytes, kind: str) -> str:
    """A platform's voice/video as it gave it: typed by its bytes where they
    say, else a download (never served as something a browser would run)."""
    return sniff(data) or "application/octet-stream"


def ensure_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    directory.chmod(0o700)


def store_file(directory: Path, data: bytes, content_type: str) -> str:
    """Write the bytes under a new random name (0600); the name."""
    ensure_dir(directory)
    ext = IMAGE_TYPES.get(content_type) or OTHER_TYPES.get(content_type, ".bin")
    name = f"{secrets.token_hex(16)}{ext}"
    fd = os.open(directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return name


def path_of(directory: Path, media: Media) -> Path | None:
    """The stored file, or None when only the platform's reference is kept."""
    if not media.stored_name or not STORED_NAME.match(media.stored_name):
        return None
    path = directory / media.stored_name
    return path if path.is_file() else None


@dataclass(frozen=True)
class Kept:
    id: int
    kind: str
    ticket_id: int | None
    conversation_id: int | None

    @property
    def ticket_number(self) -> str | None:
        return ticket_number(self.ticket_id) if self.ticket_id is not None else None


def keep(
    session: Session,
    directory: Path,
    channel: str,
    customer_id: str,
    kind: str,
    data: bytes | None,
    content_type: str | None = None,
    source_ref: str | None = None,
) -> Kept:
    """Store the file (when there are bytes) and its row, attached to the
    customer's open ticket or else their open conversation."""
    stored = None
    if data is not None:
        content_type = content_type or platform_type(data, kind)
        stored = store_file(directory, data, content_type)
    try:
        ticket = recent_open_ticket(session, customer_id, ATTACH_WITHIN)
        conversation = None if ticket is not None else open_conversation(session, channel, customer_id)
        media = Media(
            channel=channel,
            customer_id=customer_id,
            ticket_id=ticket.id if ticket is not None else None,
            conversation_id=conversation.id if conversation is not None else None,
            kind=kind,
            content_type=content_type,
            size=len(data) if data is not None else None,
            sha256=hashlib.sha256(data).hexdigest() if data is not None else None,
            stored_name=stored,
            source_ref=source_ref[:2000] if source_ref else None,
        )
        session.add(media)
        if ticket is not None:
            word = KIND_WORDS.get(kind, "文件")
            session.add(TicketEvent(ticket_id=ticket.id, note=f"客户补充了{word}" + ("" if stored else "（未能下载）")))
            ticket.updated_at = utcnow()
        session.commit()
    except BaseException:
        if stored:
            (directory / stored).unlink(missing_ok=True)
        raise
    return Kept(media.id, kind, media.ticket_id, media.conversation_id)


def acknowledgement(kind: str, number: str | None) -> str:
    word = KIND_WORDS.get(kind, "文件")
    if number:
        return f"已收到您的{word}，已补充到工单{number}，我们会尽快处理。"
    return f"已收到您的{word}，客服会尽快查看。"


def get(session: Session, media_id: int) -> Media | None:
    return session.get(Media, media_id)


def of_ticket(session: Session, ticket_id: int) -> list[Media]:
    return list(session.execute(select(Media).where(Media.ticket_id == ticket_id).order_by(Media.id)).scalars())


def of_customer(session: Session, customer_id: str) -> list[Media]:
    return list(session.execute(select(Media).where(Media.customer_id == customer_id).order_by(Media.id)).scalars())


def latest_id(session: Session, customer_id: str) -> int:
    """The newest media id of a customer (0 without any): how the desk's
    live feed notices a photo that arrived while the conversation is open."""
    return session.execute(select(func.max(Media.id)).where(Media.customer_id == customer_id)).scalar() or 0


def media_to_json(media: Media, url: str | None = None) -> dict:
    return {
        "id": media.id,
        "url": url if url is not None else (f"/api/media/{media.id}" if media.stored_name else None),
        "kind": media.kind,
        "content_type": media.content_type,
        "size": media.size,
        "created_at": local_iso(media.created_at),
        "ticket_id": media.ticket_id,
        "source_ref": None if media.stored_name else media.source_ref,
    }
