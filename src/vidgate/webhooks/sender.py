"""The webhook sender, run by every worker process: sends each due delivery to its URL,
signed with its key's secret (Standard Webhooks: `webhook-id`, `webhook-timestamp`,
`webhook-signature`), and writes the outcome; a failed one is sent again on the retry schedule
(`webhook_retry_seconds`), then given up.

The body is the event (`type`, `timestamp`, the job's `attempt`) and the job object as the API
shows it (`data`), as the job was at the event; its links are made at each send, so an
expiring link is fresh. The connection goes only to an address the source policy permits,
checked as it is made, and redirects are not followed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import Counter
from datetime import timedelta

import httpx
from ssrfguard import SSRFGuardError
from standardwebhooks import Webhook

from vidgate import __version__
from vidgate.api.presenters import iso, job_object
from vidgate.auth.service import webhook_secrets
from vidgate.cache import ExpiringCache
from vidgate.config import Settings
from vidgate.db.base import utcnow
from vidgate.jobs.events import EventKind
from vidgate.jobs.loops import raise_if_cancelling
from vidgate.media.fetch import source_policy
from vidgate.outbound import UNREACHABLE, guarded_client
from vidgate.services import Services
from vidgate.webhooks import deliveries
from vidgate.webhooks.deliveries import Outcome
from vidgate.webhooks.models import WebhookDelivery

log = logging.getLogger(__name__)

# With nothing due, look again this often (a retry comes due without any event).
IDLE_SECONDS = 1.0
# A claim holds its deliveries this much longer than a send may last, for writing the outcome.
HOLD_MARGIN_SECONDS = 60.0
# A stop lets the sends under way go on this long before it cuts them off.
STOP_GRACE_SECONDS = 2.0
# Of a receiver's answer, this much is read (so the connection can be used again); no more.
MAX_ANSWER_BYTES = 64 * 1024


def webhook_client(settings: Settings) -> httpx.AsyncClient:
    """Connects only where source URLs may lead (the same address policy)."""
    return guarded_client(source_policy(settings), timeout=httpx.Timeout(settings.webhook_timeout_seconds))


class WebhookSender:
    """Up to `webhook_concurrency` sends at once. Claims are made in batches (when half the
    slots are free, or none is busy) and outcomes written in batches (whatever finished while
    the last batch was written), so each delivery costs a share of two transactions."""

    def __init__(self, services: Services, http: httpx.AsyncClient) -> None:
        self.services = services
        self.sessions = services.sessions
        self.settings = services.settings
        self.http = http
        self._wake = asyncio.Event()
        self._finished = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._sending: set[asyncio.Task[None]] = set()
        self._outcomes: list[Outcome] = []
        self._unsettled: Counter[str] = Counter()  # deliveries of each claim not yet written
        ttl = self.settings.key_cache_seconds
        self._secret_cache: ExpiringCache[str] = ExpiringCache(lifetime=lambda _secret: ttl)

    async def start(self) -> None:
        # A job that changed may have recorded a delivery: look at once.
        self.services.events.on(EventKind.CHANGED, lambda _job_id: self._wake.set())
        self._tasks = [asyncio.create_task(self._claim_loop(), name="vidgate-webhooks"),
                       asyncio.create_task(self._settle_loop(), name="vidgate-webhook-outcomes")]

    async def stop(self) -> None:
        """Stop claiming; let the sends under way finish for a moment (STOP_GRACE_SECONDS);
        write what was sent, and give back what was claimed and not sent (due again at once;
        a receiver may see it twice, with the same webhook-id)."""
        for task in self._tasks:
            task.cancel()
        if self._sending:
            await asyncio.wait(list(self._sending), timeout=STOP_GRACE_SECONDS)
        tasks = [*self._tasks, *self._sending]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        with contextlib.suppress(Exception):
            await self._settle()
        for token in +self._unsettled:
            with contextlib.suppress(Exception):
                await deliveries.release(self.sessions, token)
        self._unsettled.clear()

    async def _claim_loop(self) -> None:
        batch = max(1, self.settings.webhook_concurrency // 2)
        while True:
            self._wake.clear()
            free = self.settings.webhook_concurrency - len(self._sending)
            if free >= batch or not self._sending:
                try:
                    await self._claim_and_send(free)
                except Exception:
                    raise_if_cancelling()
                    log.exception("claiming webhook deliveries failed")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(IDLE_SECONDS):
                    await self._wake.wait()

    async def _claim_and_send(self, limit: int) -> None:
        hold = self.settings.webhook_timeout_seconds + HOLD_MARGIN_SECONDS
        claimed = await deliveries.claim_due(self.sessions, limit=limit, hold_seconds=hold)
        if not claimed.deliveries:
            return
        self._unsettled[claimed.token] += len(claimed.deliveries)
        secrets = await self._secrets({d.key_id for d in claimed.deliveries})
        for delivery in claimed.deliveries:
            task = asyncio.create_task(self._deliver(delivery, secrets.get(delivery.key_id), claimed.token))
            self._sending.add(task)
            task.add_done_callback(self._sent)

    async def _secrets(self, key_ids: set[str]) -> dict[str, str]:
        """The signing secret of each key that has one, remembered as long as the API side
        remembers a key (a rotated secret signs within VIDGATE_KEY_CACHE_SECONDS)."""
        known = {key_id: self._secret_cache.get(key_id) for key_id in key_ids}
        missing = {key_id for key_id, secret in known.items() if secret is None}
        if missing:
            for key_id, secret in (await webhook_secrets(self.sessions, missing)).items():
                self._secret_cache.put(key_id, secret)
                known[key_id] = secret
        return {key_id: secret for key_id, secret in known.items() if secret is not None}

    def _sent(self, task: asyncio.Task[None]) -> None:
        self._sending.discard(task)
        self._wake.set()  # a slot is free

    async def _deliver(self, delivery: WebhookDelivery, secret: str | None, token: str) -> None:
        try:
            outcome = await self.send(delivery, secret, token)
        except Exception:  # a fault of ours, not the receiver's: it counts as an attempt
            raise_if_cancelling()
            log.exception("webhook %s: sending failed", delivery.id)
            outcome = self._failed(delivery, token, None, "the delivery could not be made (an error in vidgate)")
        if outcome.error is not None:  # the URL's path and query may hold the receiver's token
            log.info("webhook %s (%s of job %s) to %s: %s", delivery.id, delivery.event,
                     delivery.job_id, _host(delivery.url), outcome.error)
        self._outcomes.append(outcome)
        self._finished.set()

    async def _settle_loop(self) -> None:
        while True:
            await self._finished.wait()
            self._finished.clear()
            try:
                await self._settle()
            except Exception:
                raise_if_cancelling()
                log.exception("writing webhook outcomes failed")  # sent again when their hold ends
            self._wake.set()  # claims whose outcomes are written are over

    async def _settle(self) -> None:
        outcomes, self._outcomes = self._outcomes, []
        await deliveries.settle(self.sessions, outcomes)
        self._forget_claims([outcome.token for outcome in outcomes])

    def _forget_claims(self, tokens: list[str]) -> None:
        """One delivery of the claim of each of `tokens` needs no giving back any more."""
        self._unsettled.subtract(tokens)
        for token in set(tokens):
            if self._unsettled[token] <= 0:
                del self._unsettled[token]

    async def send(self, delivery: WebhookDelivery, secret: str | None, token: str) -> Outcome:
        """Send the delivery (held by the claim `token`) once; what came of it."""
        now = utcnow()
        if secret is None:  # keys get one when created; a request is refused without it
            return Outcome(delivery.id, token, now, None, "the API key has no webhook signing secret", None)
        body = self.body(delivery)
        headers = {
            "content-type": "application/json",
            "user-agent": f"vidgate-webhooks/{__version__}",
            "webhook-id": delivery.id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(delivery.id, now, body),
        }
        host = _host(delivery.url)
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_seconds):
                async with self.http.stream("POST", delivery.url, content=body, headers=headers) as response:
                    await _read_some(response)
        except (SSRFGuardError, httpx.ConnectError, httpx.ConnectTimeout):
            return self._failed(delivery, token, None, UNREACHABLE.format(host=host))
        except (TimeoutError, httpx.TimeoutException):
            return self._failed(delivery, token, None, f"{host} did not answer within {self.settings.webhook_timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            return self._failed(delivery, token, None, f"sending to {host} failed: {type(exc).__name__}")
        if response.is_success:
            return Outcome(delivery.id, token, utcnow(), response.status_code, None, None)
        return self._failed(delivery, token, response.status_code, f"the receiver answered HTTP {response.status_code}")

    def body(self, delivery: WebhookDelivery) -> bytes:
        job = deliveries.job_from_snapshot(delivery.job_snapshot)
        event = {
            "type": delivery.event,
            "timestamp": iso(delivery.created_at),
            "attempt": delivery.job_attempt,
            "data": job_object(job, self.services.storage, self.settings.base_url),
        }
        return json.dumps(event, separators=(",", ":")).encode()

    def _failed(self, delivery: WebhookDelivery, token: str, status_code: int | None, error: str) -> Outcome:
        """The outcome of a send that failed: tried again after the schedule's next wait, or
        given up after its last."""
        now = utcnow()
        waits = self.settings.webhook_retry_seconds
        retry_at = now + timedelta(seconds=waits[delivery.attempts]) if delivery.attempts < len(waits) else None
        return Outcome(delivery.id, token, now, status_code, error, retry_at)


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host or url
    except httpx.InvalidURL:
        return "an invalid URL"


async def _read_some(response: httpx.Response) -> None:
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read >= MAX_ANSWER_BYTES:
            return
