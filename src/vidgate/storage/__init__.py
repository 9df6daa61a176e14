"""Where finished videos are kept: a local folder (embedded default) or an S3 bucket."""

from vidgate.config import Settings
from vidgate.storage.base import Link, LinkRefused, Storage, StorageUnavailable, media_type
from vidgate.storage.local import LocalStorage

__all__ = [
    "Link", "LinkRefused", "LocalStorage", "Storage", "StorageUnavailable", "media_type", "open_storage",
]


def open_storage(settings: Settings) -> Storage:
    """The storage the settings name."""
    if settings.storage == "s3":
        from vidgate.storage.s3 import S3Storage  # boto3 is imported only where it is used

        assert settings.s3_bucket is not None
        return S3Storage(
            bucket=settings.s3_bucket,
            endpoint_url=settings.s3_endpoint_url,
            public_url=settings.s3_public_url,
            region=settings.s3_region,
            access_key_id=settings.s3_access_key_id,
            secret_access_key=settings.s3_secret_access_key,
            prefix=settings.s3_prefix,
            link_seconds=settings.link_seconds,
        )
    return LocalStorage(settings.outputs_dir)
