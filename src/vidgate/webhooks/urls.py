"""What a webhook URL must be, judged from its text (its address is checked again, against
the address policy, when a delivery connects)."""

from __future__ import annotations

from urllib.parse import urlsplit

from ssrfguard import Policy

from vidgate.media.fetch import check_source_url
from vidgate.outbound import why_refused

MAX_WEBHOOK_URL_CHARS = 2048


def check_webhook_url(value: str) -> str | None:
    """Why `value` cannot be a webhook URL (completing a sentence that starts with the field's
    name), or None."""
    if len(value) > MAX_WEBHOOK_URL_CHARS:
        return f"must be at most {MAX_WEBHOOK_URL_CHARS} characters"
    if urlsplit(value).scheme not in ("http", "https"):
        return "must be an http(s) URL"
    return check_source_url(value)


def why_webhook_refused(value: str, policy: Policy) -> str | None:
    """`check_webhook_url`, then the address policy (a private or local address is refused)."""
    return check_webhook_url(value) or why_refused(value, policy)
