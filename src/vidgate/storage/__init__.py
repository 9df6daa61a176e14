"""Where finished videos are kept: a local folder (embedded default) or an S3 bucket."""

from vidgate.storage.base import Link, Storage, media_type
from vidgate.storage.local import LocalStorage

__all__ = ["Link", "LocalStorage", "Storage", "media_type"]
