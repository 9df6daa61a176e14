"""Per-key rate limits in NovaKit's form: X-RateLimit-* headers on every response to a key,
429 with Retry-After past a limit, generation requests limited besides, a key's own limits
over the server's defaults; a refused request is not counted and changes nothing."""

from __future__ import annotations

import random
import time
from pathlib import Path
from types import SimpleNamespace

import limits.storage
import limits.strategies
import pytest
from click.testing import CliRunner

from tests.conftest import auth, running_harness
from vidgate.auth import rate_limits
from vidgate.auth.rate_limits import ProcessWindows, parse_limit
from vidgate.cli import main as cli

GEN = "/api/v1/videos/generations"
JOB = {"prompt": "rain on a window", "duration_seconds": 1, "model": "vidgate/local"}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The rate limits' clock, stopped 1 s into a minute (and an hour) until the test moves it:
    a sliding window counter lets a full window's requests partly through once the next fixed
    window starts, so requests that straddled that boundary would make the counts a matter of
    luck."""
    now = [1_800_000_001.0]
    monkeypatch.setattr(rate_limits, "time", SimpleNamespace(time=lambda: now[0]))
    return now


def window(response: object) -> tuple[int, int, int]:
    headers = response.headers  # type: ignore[attr-defined]
    return (int(headers["X-RateLimit-Limit"]), int(headers["X-RateLimit-Remaining"]),
            int(headers["X-RateLimit-Reset"]))


async def test_every_response_to_a_key_says_where_it_stands_until_429(
    tmp_path: Path, database_url: str | None, clock: list[float]
) -> None:
    async with running_harness(tmp_path, database_url, transport=None, rate_limit="4/minute") as harness:
        key = await harness.key()
        answers = [
            await harness.client.get("/api/v1/quota", headers=auth(key)),
            await harness.client.get("/api/v1/jobs", headers=auth(key)),
            await harness.client.get("/api/v1/jobs/job_missing", headers=auth(key)),  # an error too
            await harness.client.post(GEN, content=b"{not json", headers=auth(key)),
        ]
        assert [answer.status_code for answer in answers] == [200, 200, 404, 400]
        assert [window(answer)[:2] for answer in answers] == [(4, 3), (4, 2), (4, 1), (4, 0)]
        assert all(window(answer)[2] == clock[0] + 59 for answer in answers)  # the minute's end

        refused = await harness.client.get("/api/v1/quota", headers=auth(key))
        assert refused.status_code == 429
        retry = refused.json()["retryAfter"]
        assert refused.json() == {"error": "Rate limit exceeded", "retryAfter": retry, "retry_after": retry}
        assert retry == 59 and refused.headers["Retry-After"] == "59"
        assert window(refused)[:2] == (4, 0)
        # another key has a window of its own; requests without a key are not counted
        other = await harness.key()
        assert window(await harness.client.get("/api/v1/quota", headers=auth(other)))[:2] == (4, 3)
        models = await harness.client.get("/api/v1/models")
        assert models.status_code == 200 and "X-RateLimit-Limit" not in models.headers


async def test_a_refused_request_is_not_counted_and_the_window_slides(
    tmp_path: Path, database_url: str | None, clock: list[float]
) -> None:
    async with running_harness(tmp_path, database_url, transport=None, rate_limit="2/second") as harness:
        key = await harness.key()
        statuses = [(await harness.client.get("/api/v1/quota", headers=auth(key))).status_code for _ in range(6)]
        assert statuses == [200, 200, 429, 429, 429, 429]
        clock[0] += 2.05  # both counted requests have left the window; no refusal was counted
        again = await harness.client.get("/api/v1/quota", headers=auth(key))
        assert again.status_code == 200 and window(again)[:2] == (2, 1)


async def test_generations_have_a_limit_of_their_own_and_a_refused_one_makes_no_job(
    tmp_path: Path, database_url: str | None, clock: list[float]
) -> None:
    async with running_harness(tmp_path, database_url, transport=None, generation_rate_limit="2/minute") as harness:
        key = await harness.key()
        made = [await harness.client.post(f"{GEN}?async=true", json=JOB, headers=auth(key)) for _ in range(2)]
        assert [response.status_code for response in made] == [200, 200]
        assert [window(response)[:2] for response in made] == [(2, 1), (2, 0)]  # the tighter limit shows
        quota_before = await harness.quota(key)
        refused = await harness.client.post(f"{GEN}?async=true", json=JOB, headers=auth(key))
        assert refused.status_code == 429 and refused.json()["error"] == "Rate limit exceeded"
        assert await harness.quota(key) == quota_before
        jobs = (await harness.client.get("/api/v1/jobs", headers=auth(key))).json()["jobs"]
        assert len(jobs) == 2
        assert window(await harness.client.get("/api/v1/jobs", headers=auth(key)))[0] == 1200  # reads go on


async def test_a_keys_own_limits_win_over_the_defaults(
    tmp_path: Path, database_url: str | None, clock: list[float]
) -> None:
    async with running_harness(tmp_path, database_url, transport=None, rate_limit="2/minute") as harness:
        generous, unlimited = await harness.key(rate_limit="100/hour"), await harness.key(rate_limit="none")
        assert window(await harness.client.get("/api/v1/quota", headers=auth(generous)))[:2] == (100, 99)
        for _ in range(5):
            response = await harness.client.get("/api/v1/quota", headers=auth(unlimited))
            assert response.status_code == 200 and "X-RateLimit-Limit" not in response.headers


@pytest.mark.parametrize("text", ["", "many", "0/minute", "5/fortnight", "1/second;2/minute", "-1/hour"])
def test_a_limit_that_is_not_one_is_refused_clearly(text: str) -> None:
    with pytest.raises(ValueError, match="is not a rate limit: write it as N/second"):
        parse_limit(text)


def test_keys_get_their_limits_from_the_command_line(tmp_path: Path, database_url: str | None) -> None:
    env = {"VIDGATE_DATA_DIR": str(tmp_path), "DATABASE_URL": database_url}
    runner = CliRunner()
    bad = runner.invoke(cli, ["keys", "create", "--name", "x", "--rate-limit", "lots"], env=env)
    assert bad.exit_code == 2 and "'lots' is not a rate limit" in bad.output
    created = runner.invoke(cli, ["keys", "create", "--name", "x", "--rate-limit", "5/minute"], env=env)
    assert created.exit_code == 0, created.output
    key_id = created.output.split()[3]
    changed = runner.invoke(cli, ["keys", "limits", key_id, "--generation-rate-limit", "1/hour"], env=env)
    assert changed.exit_code == 0 and changed.output.strip() == f"{key_id}: generation rate limit 1/hour"
    missing = runner.invoke(cli, ["keys", "limits", "key_nope", "--rate-limit", "default"], env=env)
    assert missing.exit_code == 1 and "No key with ID key_nope" in missing.output


async def test_requests_go_through_uncounted_while_the_shared_storage_is_out_of_reach() -> None:
    from tests.live_server import free_port
    from vidgate.auth.cache import AuthenticatedKey
    from vidgate.auth.rate_limits import RateLimits

    nobody = RateLimits(requests="1/minute", generations="1/minute", storage=f"redis://127.0.0.1:{free_port()}")
    key = AuthenticatedKey("key_a", "a", frozenset({"video"}), sandbox=True)
    assert [await nobody.count(key, generation=True) for _ in range(3)] == [None] * 3  # not 429, not 500
    with pytest.raises(Exception):  # noqa: B017 - /readyz reports whatever the driver raised
        await nobody.check()


@pytest.mark.parametrize("limit", ["5/second", "3/minute", "40/hour"])
async def test_the_in_process_counts_answer_as_limits_own_memory_storage_does(
    monkeypatch: pytest.MonkeyPatch, limit: str
) -> None:
    """ProcessWindows against `limits`' SlidingWindowCounterRateLimiter over its MemoryStorage,
    hit for hit on one clock: requests a little faster than the limit allows, across window
    boundaries, with pauses of several windows."""
    clock = [1_800_000_000.0]
    monkeypatch.setattr(time, "time", lambda: clock[0])
    item = parse_limit(limit)
    assert item is not None
    expiry = item.get_expiry()
    theirs = limits.strategies.SlidingWindowCounterRateLimiter(limits.storage.MemoryStorage())
    ours = ProcessWindows()
    rng = random.Random(limit)
    answers = []
    for _ in range(600):
        pause = rng.uniform(1, 3) * expiry if rng.random() < 0.02 else rng.uniform(0, 1.6 * expiry / item.amount)
        clock[0] += pause
        their_hit = theirs.hit(item, "requests", "key_a")
        their_stats = theirs.get_window_stats(item, "requests", "key_a")
        our_hit, our_stats = await ours.hit(item, "requests", "key_a")
        assert (our_hit, our_stats.remaining) == (their_hit, their_stats.remaining)
        assert our_stats.reset_time == pytest.approx(their_stats.reset_time, abs=1e-6)
        answers.append(our_hit)
    assert min(answers.count(False), answers.count(True)) > 50  # both answers, many times
