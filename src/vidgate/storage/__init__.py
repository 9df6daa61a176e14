"""Where finished videos are kept: a local folder (embedded default), S3 later."""

from vidgate.storage.local import LocalStorage, media_type

__all__ = ["LocalStorage", "media_type"]
