"""Storing a source file a key uploads: read within the size limit, checked as a render checks
its source (decodable, within the pixel and length limits), then kept in storage under the
upload's id, at a link a generation request takes as `source_image` or `source_video`."""

from __future__ import annotations

import asyncio
import logging
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import av
from PIL import Image, UnidentifiedImageError
from sqlalchemy import delete, select

from vidgate.config import Settings
from vidgate.db.base import time_ordered_id, utcnow
from vidgate.engine.errors import SourceMediaError
from vidgate.engine.image import load_image
from vidgate.engine.video import check_source_size, timeline
from vidgate.errors import BadRequest, NotFound, PayloadTooLarge
from vidgate.jobs.store import Sessions
from vidgate.media.limits import SourceLimits
from vidgate.media.probe import probe_video, source_size
from vidgate.storage import Storage, media_type
from vidgate.uploads.models import Upload

log = logging.getLogger(__name__)

# What providers take as a source: stored under these extensions, served with their types.
IMAGE_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif"}
VIDEO_CONTAINERS = {"mov,mp4,m4a,3gp,3g2,mj2": ".mp4", "matroska,webm": ".webm"}
WEBM_CODECS = {"vp8", "vp9", "av1", "libdav1d", "libvpx", "libvpx-vp9"}  # what a WebM may hold
SOURCE_FIELD = {"image": "source_image", "video": "source_video"}
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Inspected:
    """What an uploaded file turned out to be."""

    kind: str  # "image" or "video"
    extension: str
    width: int
    height: int
    duration_seconds: float | None = None


async def store_upload(
    sessions: Sessions,
    storage: Storage,
    *,
    settings: Settings,
    key_id: str,
    file: BinaryIO,
    filename: str,
) -> Upload:
    """Check and keep `file` for `key_id`, within the server's source limits (`settings`).
    BadRequest for a file that is no source this server takes; PayloadTooLarge past
    `max_source_bytes`. Nothing is stored for a refused file."""
    upload_id = time_ordered_id("file_")
    folder = Path(tempfile.mkdtemp(prefix=f"{upload_id}-", dir=settings.work_dir))
    try:
        copied = folder / "upload"
        size = await asyncio.to_thread(_copy_within, file, copied, settings.max_source_bytes)
        inspected = await asyncio.to_thread(inspect_source, copied, settings.source_limits)
        stored_name = f"source{inspected.extension}"
        keys = await storage.put(upload_id, {stored_name: copied})
        upload = Upload(
            id=upload_id,
            key_id=key_id,
            kind=inspected.kind,
            filename=_display_name(filename),
            content_type=media_type(stored_name),
            bytes=size,
            width=inspected.width,
            height=inspected.height,
            duration_seconds=inspected.duration_seconds,
            storage_key=keys[stored_name],
            created_at=utcnow(),
        )
        try:
            async with sessions() as session, session.begin():
                session.add(upload)
        except BaseException:
            await storage.delete(keys.values())
            raise
        log.info("upload %s stored: %s %dx%d, %d bytes", upload_id, upload.kind, upload.width,
                 upload.height, size, extra={"key_id": key_id})
        return upload
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _copy_within(source: BinaryIO, dest: Path, max_bytes: int) -> int:
    size = 0
    with dest.open("wb") as out:
        while chunk := source.read(_CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise PayloadTooLarge(f"file is larger than {max_bytes} bytes, the most this server takes")
            out.write(chunk)
    if size == 0:
        raise BadRequest("file is empty")
    return size


def inspect_source(path: Path, limits: SourceLimits) -> Inspected:
    """What `path` is, checked as a render will check it. BadRequest when it is no image or
    video this server takes, or one past its limits."""
    try:
        image_format = _image_format(path, limits)
        if image_format is not None:
            return _inspect_image(path, image_format, limits)
        return _inspect_video(path, limits)
    except SourceMediaError as exc:
        raise BadRequest(str(exc)) from exc


def _image_format(path: Path, limits: SourceLimits) -> str | None:
    """The image format Pillow reads `path` as, or None when it is no image."""
    try:
        with warnings.catch_warnings():  # sizes past Pillow's warning are ours to judge
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.format or "unknown"
    except Image.DecompressionBombError as exc:  # Pillow's own ceiling, far above ours
        raise BadRequest(f"file is an image of more than {limits.max_pixels / 1e6:g} million pixels, "
                         "more than this server decodes") from exc
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def _inspect_image(path: Path, image_format: str, limits: SourceLimits) -> Inspected:
    if image_format not in IMAGE_FORMATS:
        raise BadRequest(f"file is a {image_format} image; source images may be "
                         f"{', '.join(IMAGE_FORMATS)}")
    load_image(path, cover=(1, 1), max_pixels=limits.max_pixels).close()  # decodes, or says why not
    size = source_size(path)
    assert size is not None  # it was just decoded
    return Inspected("image", IMAGE_FORMATS[image_format], *size)


def _inspect_video(path: Path, limits: SourceLimits) -> Inspected:
    try:
        with av.open(str(path)) as container:
            container_format = container.format.name
            codecs = {stream.codec_context.name for stream in container.streams.video}
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise BadRequest("file is neither an image nor a video this server can read") from exc
    if container_format == "matroska,webm" and not codecs <= WEBM_CODECS:  # an MKV, not a WebM
        container_format = "matroska"
    if container_format not in VIDEO_CONTAINERS:
        raise BadRequest("file is a video in a container this server does not take: source videos "
                         "may be MP4, MOV or WebM")
    check_source_size(path, limits)
    frames = timeline(path)
    try:
        next(frames)  # the first frame decodes, or the source is refused now rather than at render
    finally:
        frames.close()
    info = probe_video(path)
    return Inspected("video", VIDEO_CONTAINERS[container_format], info.width, info.height,
                     info.duration_seconds)


def _display_name(filename: str) -> str:
    """The client's name for the file, kept for its eyes: the last path part, printable, short."""
    name = Path(filename.replace("\\", "/")).name
    return "".join(ch for ch in name if ch.isprintable())[:255] or "upload"


async def get_upload(sessions: Sessions, upload_id: str, *, key_id: str) -> Upload:
    async with sessions() as session:
        upload = await session.get(Upload, upload_id)
    if upload is None or upload.key_id != key_id:
        raise NotFound("File not found")
    return upload


async def list_uploads(
    sessions: Sessions, *, key_id: str, limit: int, after: str | None = None
) -> tuple[list[Upload], bool]:
    """Up to `limit` of the key's uploads, newest first, older than the upload `after` (ids
    sort by creation), and whether more follow."""
    query = select(Upload).where(Upload.key_id == key_id)
    if after is not None:
        query = query.where(Upload.id < after)
    async with sessions() as session:
        found = list((await session.scalars(query.order_by(Upload.id.desc()).limit(limit + 1))).all())
    return found[:limit], len(found) > limit


async def delete_upload(sessions: Sessions, storage: Storage, upload_id: str, *, key_id: str) -> None:
    """The file goes first: a stop between the two leaves a row whose delete is made again."""
    upload = await get_upload(sessions, upload_id, key_id=key_id)
    await storage.delete([upload.storage_key])
    await forget(sessions, [upload.id])


async def created_before(sessions: Sessions, cutoff: datetime, *, limit: int) -> list[Upload]:
    async with sessions() as session:
        query = select(Upload).where(Upload.created_at < cutoff).order_by(Upload.created_at).limit(limit)
        return list((await session.scalars(query)).all())


async def forget(sessions: Sessions, upload_ids: list[str]) -> None:
    """Remove uploads' records (their files deleted already)."""
    async with sessions() as session, session.begin():
        await session.execute(delete(Upload).where(Upload.id.in_(upload_ids)))
