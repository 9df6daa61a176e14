"""Verifying fal's webhook calls: an Ed25519 signature by one of the keys fal publishes (JWKS).

The signed message is the request id, the user id, the timestamp and the SHA-256 of the raw
body, joined by newlines; the timestamp must be within five minutes of now.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Mapping

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DEFAULT_JWKS_URL = "https://rest.alpha.fal.ai/.well-known/jwks.json"
KEYS_CACHE_SECONDS = 24 * 3600
MAX_CLOCK_SKEW_SECONDS = 300


class InvalidWebhook(Exception):
    """The call is not a genuine, fresh webhook from fal."""


class WebhookVerifier:
    def __init__(self, http: httpx.AsyncClient, *, jwks_url: str = DEFAULT_JWKS_URL) -> None:
        self.http = http
        self.jwks_url = jwks_url
        self._keys: list[Ed25519PublicKey] = []
        self._fetched_at = -KEYS_CACHE_SECONDS

    async def verify(self, headers: Mapping[str, str], body: bytes) -> str:
        """Check the signature; return the request id it is about."""
        try:
            request_id = headers["x-fal-webhook-request-id"]
            user_id = headers["x-fal-webhook-user-id"]
            timestamp = headers["x-fal-webhook-timestamp"]
            signature = binascii.unhexlify(headers["x-fal-webhook-signature"])
        except (KeyError, binascii.Error, ValueError) as exc:
            raise InvalidWebhook("missing or malformed signature headers") from exc
        if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
            raise InvalidWebhook("stale or malformed timestamp")
        message = "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode()
        for key in await self._public_keys():
            try:
                key.verify(signature, message)
                return request_id
            except InvalidSignature:
                continue
        raise InvalidWebhook("signature does not match fal's keys")

    async def _public_keys(self) -> list[Ed25519PublicKey]:
        if time.monotonic() - self._fetched_at > KEYS_CACHE_SECONDS or not self._keys:
            response = await self.http.get(self.jwks_url)
            response.raise_for_status()
            self._keys = [
                Ed25519PublicKey.from_public_bytes(_b64url(key["x"]))
                for key in response.json().get("keys", [])
                if key.get("kty") == "OKP" and key.get("crv") == "Ed25519"
            ]
            self._fetched_at = time.monotonic()
        return self._keys


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
