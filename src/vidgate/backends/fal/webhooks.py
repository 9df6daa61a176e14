"""Verifying fal's webhook calls: an Ed25519 signature by one of the keys fal publishes (JWKS).

The signed message is the request id, the user id, the timestamp and the SHA-256 of the raw
body, joined by newlines; the timestamp must be within five minutes of now.

The keys are cached for a day. A signature the cached keys do not verify makes one fresh
fetch (fal may have rotated its keys), at most once a minute, so forged calls cannot make us
hammer fal; webhooks arriving together share one fetch.
"""

from __future__ import annotations

import asyncio
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
KEYS_REFETCH_SECONDS = 60
MAX_CLOCK_SKEW_SECONDS = 300


class InvalidWebhook(Exception):
    """The call is not a genuine, fresh webhook from fal."""


class KeysUnavailable(Exception):
    """fal's signing keys could not be fetched (or made no sense): the call cannot be checked
    now. fal delivers it again later."""


JWKS_TIMEOUT = httpx.Timeout(10.0)


class WebhookVerifier:
    def __init__(self, *, jwks_url: str = DEFAULT_JWKS_URL) -> None:
        self.jwks_url = jwks_url
        self._keys: list[Ed25519PublicKey] = []
        self._fetched_at = -float(KEYS_CACHE_SECONDS)  # monotonic time of the last good fetch
        self._tried_at = -float(KEYS_REFETCH_SECONDS)  # ... of the last fetch tried
        self._lock = asyncio.Lock()

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
        keys = await self._current_keys()
        if _verifies(keys, signature, message):
            return request_id
        if _verifies(await self._rotated_keys(keys), signature, message):
            return request_id
        raise InvalidWebhook("signature does not match fal's keys")

    async def _current_keys(self) -> list[Ed25519PublicKey]:
        """The cached keys, fetched when there are none or they are a day old."""
        async with self._lock:
            if not self._keys or time.monotonic() - self._fetched_at > KEYS_CACHE_SECONDS:
                await self._fetch()
            return self._keys

    async def _rotated_keys(self, stale: list[Ed25519PublicKey]) -> list[Ed25519PublicKey]:
        """Keys fetched after `stale` failed to verify: another call's fetch if one came in the
        meantime, else a fresh one unless one was tried within the last minute."""
        async with self._lock:
            if self._keys is stale and time.monotonic() - self._tried_at >= KEYS_REFETCH_SECONDS:
                await self._fetch()
            return self._keys

    async def _fetch(self) -> None:
        self._tried_at = time.monotonic()
        try:
            async with httpx.AsyncClient(timeout=JWKS_TIMEOUT) as http:  # once a day at most
                response = await http.get(self.jwks_url)
            response.raise_for_status()
            keys = [
                Ed25519PublicKey.from_public_bytes(_b64url(key["x"]))
                for key in response.json()["keys"]
                if key.get("kty") == "OKP" and key.get("crv") == "Ed25519"
            ]
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
            raise KeysUnavailable(f"fal.ai's webhook keys could not be fetched: {exc}") from exc
        if not keys:
            raise KeysUnavailable("fal.ai's webhook keys could not be fetched: none published")
        self._keys = keys
        self._fetched_at = time.monotonic()


def _verifies(keys: list[Ed25519PublicKey], signature: bytes, message: bytes) -> bool:
    for key in keys:
        try:
            key.verify(signature, message)
            return True
        except InvalidSignature:
            continue
    return False


def _b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
