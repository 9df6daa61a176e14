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
from datetime import timedelta

import httpx
from ssrfguard import SSRFGuardError
from standardwebhooks import Webhook

from vidgate import __version__
from vidgate.api.presenters import iso, job_object
from vidgate.auth.service import webhook_secrets
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
# Of a receiver's answer, this much is read (so the connection can be used again); no more.
MAX_ANSWER_BYTES = 64 * 1024


def webhook_client(settings: Settings) -> httpx.AsyncClient:
    """Connects only where source URLs may lead (the same address policy)."""
    return guarded_client(source_policy(settings), timeout=httpx.Timeout(settings.webhook_timeout_seconds))


class WebhookSender:
    def __init__(self, services: Services, http: httpx.AsyncClient) -> None:
        self.services = services
        self.sessions = services.sessions
        self.settings = services.settings
        self.http = http
        self._wake = asyncio.Event()
        self._loop_task: asyncio.Task[None] | None = None
        self._sending: set[asyncio.Task[None]] = set()
        self._tokens: set[str] = set()

    async def start(self) -> None:
        # A job that changed may have recorded a delivery: look at once.
        self.services.events.on(EventKind.CHANGED, lambda _job_id: self._wake.set())
        self._loop_task = asyncio.create_task(self._loop(), name="vidgate-webhooks")

    async def stop(self) -> None:
        """Stop sending; what was claimed and not settled is due again at once (a receiver
        may see it twice, with the same webhook-id)."""
        tasks = [task for task in (self._loop_task, *self._sending) if task is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loop_task = None
        for token in list(self._tokens):
            with contextlib.suppress(Exception):
                await deliveries.release(self.sessions, token)
        self._tokens.clear()

    async def _loop(self) -> None:
        while True:
            self._wake.clear()
            free = self.settings.webhook_concurrency - len(self._sending)
            if free > 0:
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
        self._tokens.add(claimed.token)
        secrets = await webhook_secrets(self.sessions, {d.key_id for d in claimed.deliveries})
        left = len(claimed.deliveries)

        def done(task: asyncio.Task[None]) -> None:
            nonlocal left
            self._sending.discard(task)
            left -= 1
            if left == 0:
                self._tokens.discard(claimed.token)
            self._wake.set()  # a slot is free

        for delivery in claimed.deliveries:
            task = asyncio.create_task(self._deliver(delivery, secrets.get(delivery.key_id), claimed.token))
            self._sending.add(task)
            task.add_done_callback(done)

    async def _deliver(self, delivery: WebhookDelivery, secret: str | None, token: str) -> None:
        try:
            outcome = await self.send(delivery, secret)
            await deliveries.settle(self.sessions, token, [outcome])
        except Exception:
            raise_if_cancelling()
            log.exception("webhook %s: delivery failed", delivery.id)  # due again when the hold ends
            return
        if outcome.error is not None:
            log.info("webhook %s (%s of job %s) to %s: %s", delivery.id, delivery.event,
                     delivery.job_id, delivery.url, outcome.error)

    async def send(self, delivery: WebhookDelivery, secret: str | None) -> Outcome:
        """Send the delivery once; what came of it."""
        now = utcnow()
        if secret is None:  # keys get one when created; a request is refused without it
            return Outcome(delivery.id, now, None, "the API key has no webhook signing secret", None)
        body = self.body(delivery)
        headers = {
            "content-type": "application/json",
            "user-agent": f"vidgate-webhooks/{__version__}",
            "webhook-id": delivery.id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(delivery.id, now, body),
        }
        host = httpx.URL(delivery.url).host
        try:
            async with asyncio.timeout(self.settings.webhook_timeout_seconds):
                async with self.http.stream("POST", delivery.url, content=body, headers=headers) as response:
                    await _read_some(response)
        except (SSRFGuardError, httpx.ConnectError, httpx.ConnectTimeout):
            return self._failed(delivery, None, UNREACHABLE.format(host=host))
        except (TimeoutError, httpx.TimeoutException):
            return self._failed(delivery, None, f"{host} did not answer within {self.settings.webhook_timeout_seconds:g} s")
        except httpx.HTTPError as exc:
            return self._failed(delivery, None, f"sending to {host} failed: {type(exc).__name__}")
        if response.is_success:
            return Outcome(delivery.id, utcnow(), response.status_code, None, None)
        return self._failed(delivery, response.status_code, f"the receiver answered HTTP {response.status_code}")

    def body(self, delivery: WebhookDelivery) -> bytes:
        job = deliveries.job_from_snapshot(delivery.job_snapshot)
        event = {
            "type": delivery.event,
            "timestamp": iso(delivery.created_at),
            "attempt": delivery.job_attempt,
            "data": job_object(job, self.services.storage, self.settings.base_url),
        }
        return json.dumps(event, separators=(",", ":")).encode()

    def _failed(self, delivery: WebhookDelivery, status_code: int | None, error: str) -> Outcome:
        """The outcome of a send that failed: tried again after the schedule's next wait, or
        given up after its last."""
        now = utcnow()
        waits = self.settings.webhook_retry_seconds
        retry_at = now + timedelta(seconds=waits[delivery.attempts]) if delivery.attempts < len(waits) else None
        return Outcome(delivery.id, now, status_code, error, retry_at)


async def _read_some(response: httpx.Response) -> None:
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read >= MAX_ANSWER_BYTES:
            return
