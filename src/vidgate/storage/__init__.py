"""Where finished videos are kept: a local folder (embedded default), S3 later."""

from vidgate.storage.local import LocalStorage

__all__ = ["LocalStorage"]
