"""API key format: `sk_` + 64 hex (live) or `sk_test_` + 64 hex (sandbox). Only hashes are kept."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets

LIVE_PREFIX = "sk_"
SANDBOX_PREFIX = "sk_test_"
KEY_PATTERN = re.compile(r"^sk_(test_)?[0-9a-f]{64}$")

SCOPES = ("video", "jobs", "usage")


def generate_key(*, sandbox: bool) -> str:
    return (SANDBOX_PREFIX if sandbox else LIVE_PREFIX) + secrets.token_hex(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def is_well_formed(key: str) -> bool:
    return KEY_PATTERN.match(key) is not None


def display_prefix(key: str) -> str:
    """Enough of a key to recognise it in a listing, too little to use it."""
    head = SANDBOX_PREFIX if key.startswith(SANDBOX_PREFIX) else LIVE_PREFIX
    return key[: len(head) + 6]


def new_webhook_secret() -> str:
    """A Standard Webhooks signing secret: `whsec_` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def new_key_id() -> str:
    return "key_" + secrets.token_hex(8)
