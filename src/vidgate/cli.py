"""`vidgate serve | worker | db upgrade | generate | keys create | keys list | keys revoke`.

Each command imports what it needs when it runs: `vidgate --help` and `vidgate generate` do
not pay for the database, the server or the settings machinery they do not use.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from vidgate.catalog import MODES
from vidgate.cli_remote import remote
from vidgate.media.dimensions import ASPECT_RATIOS, RESOLUTIONS, output_dimensions

if TYPE_CHECKING:
    from vidgate.auth.models import ApiKey
    from vidgate.backends.registry import BackendPlugin
    from vidgate.config import Settings
    from vidgate.jobs.store import Sessions

T = TypeVar("T")

SANDBOX_CREDITS = 100_000
SANDBOX_SECONDS = 3_600
# What `vidgate keys create` gives when not told: enough to try a few fal models with.
KEY_CREDITS = 10_000
KEY_SECONDS = 600


def settings_or_exit(**overrides: Any) -> Settings:
    """The settings; a wrong one ends the command with a line naming it, not a traceback."""
    from vidgate.config import SettingsError, load_settings

    try:
        return load_settings(**overrides)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from exc


def with_database(
    settings: Settings, action: Callable[[Sessions], Awaitable[T]], *, create: bool = True
) -> T:
    """Run `action` on the database, brought to the newest schema first (or checked to be
    there, when processes do not migrate: scale-out). With `create` False, a missing SQLite
    database is an error instead of a new, empty one (and a new data folder) where the
    command happened to run."""
    from vidgate.db.engine import create_engine, create_sessionmaker
    from vidgate.db.migrate import SchemaOutdated, check_current, upgrade

    if not create and not settings.database_url and not settings.sqlite_path.exists():
        raise click.ClickException(
            f"No vidgate database at {settings.sqlite_path}: run this where the server keeps its "
            "data, or point VIDGATE_DATA_DIR (or DATABASE_URL) at it"
        )

    async def run() -> T:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_engine(settings.resolved_database_url)
        try:
            await (upgrade(engine) if settings.migrate_on_start else check_current(engine))
            return await action(create_sessionmaker(engine))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except SchemaOutdated as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
@click.version_option(package_name="vidgate")
def main() -> None:
    """vidgate: a self-hostable video generation API server."""


@main.command()
@click.option("--host", default=None, help="Address to bind (env VIDGATE_HOST, default 127.0.0.1).")
@click.option("--port", default=None, type=int, help="Port (env VIDGATE_PORT, default 8000).")
@click.option("--no-workers", is_flag=True,
              help="Serve the API alone; `vidgate worker` processes run the jobs (PostgreSQL only).")
def serve(host: str | None, port: int | None, no_workers: bool) -> None:
    """Start the API server: on the embedded default (SQLite, local folder) with its workers
    in the same process; on PostgreSQL with workers too, unless --no-workers."""
    import uvicorn

    from vidgate.api.server import GracefulServer
    from vidgate.app import create_app
    from vidgate.ops.logs import setup_logging

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = settings_or_exit(**overrides)
    if no_workers and not settings.queued:
        raise click.UsageError(
            "--no-workers needs PostgreSQL (DATABASE_URL=postgresql://...): its queue carries jobs "
            "to the `vidgate worker` processes"
        )
    base = settings.base_url
    # An API process of a scale-out writes to logs that others read: it shows no key.
    first_key = None if no_workers else with_database(settings, _sandbox_key_if_empty)
    if first_key is None:  # keys are shown once, when created: say how to make another
        click.echo("API keys: `vidgate keys create --name NAME [--sandbox]` makes one, `vidgate keys list` "
                   "lists them")
    if first_key:
        click.echo(f"Created a sandbox API key (shown once; it is not stored):\n\n  {first_key}\n")
        click.echo("Try it:\n")
        click.echo(
            f'  curl -X POST "{base}/api/v1/videos/generations" \\\n'
            f'    -H "Authorization: Bearer {first_key}" \\\n'
            '    -H "Content-Type: application/json" \\\n'
            "    -d '{\"prompt\": \"Ocean waves crashing on rocks\", \"duration_seconds\": 5}'\n"
        )
    click.echo(f"vidgate on {base} (make a video in the browser at {base}/, API docs at {base}/docs), "
               f"data in {settings.data_dir.resolve()}")
    app = create_app(settings, workers=not no_workers)
    log_config = setup_logging(settings.log_format)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_config=log_config)
    server = GracefulServer(
        config, stop_taking_work=lambda: app.state.sides.stop_taking_work(), stop_seconds=settings.shutdown_seconds
    )
    try:
        server.run()
    except KeyboardInterrupt:  # Ctrl-C, handled: uvicorn raises it again once stopped
        pass


@main.command()
@click.option("--lanes", default=None, metavar="LANE[=N],...",
              help="Lanes to run jobs of, each with its concurrency if given: local,fal or "
              "local=2,fal=500. Default: every lane of the backends this server has configured.")
@click.option("--concurrency", type=click.IntRange(min=1), default=None,
              help="Jobs of each lane run at once (default: per backend, e.g. VIDGATE_WORKERS for "
              "local renders, VIDGATE_FAL_CONCURRENCY for fal).")
@click.option("--metrics-port", type=click.IntRange(min=1, max=65535), default=None,
              help="Serve this worker's Prometheus metrics on this port (on VIDGATE_HOST).")
def worker(lanes: str | None, concurrency: int | None, metrics_port: int | None) -> None:
    """Run jobs in this process, taken from the PostgreSQL queue that API processes
    (`vidgate serve --no-workers`) fill. Stops on SIGTERM or Ctrl-C, giving running jobs back."""
    from vidgate.backends.registry import lane_slots, load_plugins
    from vidgate.db.migrate import SchemaOutdated
    from vidgate.ops.logs import setup_logging

    settings = settings_or_exit()
    if not settings.queued:
        raise click.UsageError("`vidgate worker` needs PostgreSQL (DATABASE_URL=postgresql://...)")
    setup_logging(settings.log_format)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        from vidgate.ops.metrics import REGISTRY

        try:
            start_http_server(metrics_port, addr=settings.host, registry=REGISTRY)
        except OSError as exc:
            raise click.BadParameter(
                f"cannot serve metrics on {settings.host}:{metrics_port}: {exc.strerror}", param_hint="--metrics-port"
            ) from exc
    plugins = load_plugins(settings)
    try:
        chosen = choose_lanes(lanes, concurrency, available=lane_slots(plugins))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--lanes") from exc
    try:
        asyncio.run(_work(settings, plugins, chosen))
    except SchemaOutdated as exc:
        raise click.ClickException(str(exc)) from exc


def choose_lanes(spec: str | None, concurrency: int | None, *, available: Mapping[str, int]) -> dict[str, int]:
    """The lanes and their concurrency a worker runs, from `--lanes` and `--concurrency`.

    >>> choose_lanes("local=1,fal", None, available={"local": 2, "fal": 200})
    {'local': 1, 'fal': 200}
    >>> choose_lanes(None, 5, available={"local": 2, "fal": 200})
    {'local': 5, 'fal': 5}
    """
    chosen: dict[str, int] = {}
    for part in (spec or ",".join(available)).split(","):
        lane, _, count = part.strip().partition("=")
        if lane not in available:
            known = ", ".join(available) or "none"
            raise ValueError(f"no backend configured here runs on lane {lane!r} (lanes: {known})")
        if count and not (count.isdigit() and int(count) > 0):
            raise ValueError(f"lane {lane}: {count!r} is not a number of jobs")
        chosen[lane] = int(count) if count else concurrency or available[lane]
    return chosen


async def _work(settings: Settings, plugins: Sequence[BackendPlugin], lanes: dict[str, int]) -> None:
    from vidgate.ops.stopping import exit_after
    from vidgate.sides import running

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with running(settings, plugins, api=False, lanes=lanes):
        shown = ", ".join(f"{lane} ({slots} at once)" for lane, slots in lanes.items())
        click.echo(f"vidgate worker running jobs of lanes {shown}")
        await stop.wait()
        click.echo("vidgate worker stopping: running jobs go back to the queue")
        exit_after(settings.shutdown_seconds)


@main.group(name="db")
def db_group() -> None:
    """The database schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Bring the database to this release's schema (once per release in scale-out, before
    starting its processes; concurrent runs take turns)."""
    from vidgate.db.engine import create_engine
    from vidgate.db.migrate import current_revision, upgrade

    async def run(settings: Settings) -> str:
        engine = create_engine(settings.resolved_database_url)
        try:
            await upgrade(engine)
            return await current_revision(engine)
        finally:
            await engine.dispose()

    settings = settings_or_exit()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    click.echo(f"The database is at schema revision {asyncio.run(run(settings))}")


async def _sandbox_key_if_empty(sessions: Sessions) -> str | None:
    from vidgate.auth import service as keys

    if await keys.count_keys(sessions):
        return None
    _row, secret = await keys.create_key(
        sessions,
        name="sandbox (created on first start)",
        scopes=("video", "jobs", "usage"),
        credits=SANDBOX_CREDITS,
        video_seconds=SANDBOX_SECONDS,
        sandbox=True,
    )
    return secret


@main.command()
@click.argument("prompt")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the MP4.")
@click.option("--mode", type=click.Choice(MODES), default="text_to_video", show_default=True)
@click.option("--source-image", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Image to animate (image_to_video).")
@click.option("--source-video", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Video to transform (video_to_video).")
@click.option("--duration", type=click.FloatRange(min=0.1, max=60), default=5.0, show_default=True,
              help="Seconds.")
@click.option("--resolution", type=click.Choice(RESOLUTIONS), default="720p", show_default=True)
@click.option("--fps", type=click.Choice(["30", "60"]), default="30", show_default=True)
@click.option("--aspect-ratio", type=click.Choice(ASPECT_RATIOS), default="16:9", show_default=True)
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), help="Same seed, same frames (random if unset).")
@click.option("--negative-prompt", help="What to leave out.")
@click.option("--loop", is_flag=True, help="Make the last frame flow into the first.")
@click.option("--poster", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the middle frame here as a JPEG.")
@click.option("--prompt-optimizer/--no-prompt-optimizer", default=True, show_default=True,
              help="Write out the camera, light or look a terse prompt leaves open, as the API does.")
def generate(
    prompt: str,
    output: Path,
    mode: str,
    source_image: Path | None,
    source_video: Path | None,
    duration: float,
    resolution: str,
    fps: str,
    aspect_ratio: str,
    seed: int | None,
    negative_prompt: str | None,
    loop: bool,
    poster: Path | None,
    prompt_optimizer: bool,
) -> None:
    """Render a video with the local engine, right here, no server needed."""
    from vidgate.engine import EngineError, RenderRequest, optimize_prompt, render

    if mode == "image_to_video" and source_image is None:
        raise click.UsageError("--source-image is required for image_to_video")
    if mode == "video_to_video" and source_video is None:
        raise click.UsageError("--source-video is required for video_to_video")
    width, height = output_dimensions(resolution, aspect_ratio)
    seed = secrets.randbelow(2**32) if seed is None else seed
    if prompt_optimizer:
        optimized = optimize_prompt(prompt, mode, negative_prompt)
        if optimized != prompt:
            click.echo(f"Rendering: {optimized}")
        prompt = optimized
    request = RenderRequest(
        mode=mode, prompt=prompt, negative_prompt=negative_prompt, width=width, height=height,
        fps=int(fps), duration_seconds=duration, seed=seed, loop=loop,
        source_image=source_image, source_video=source_video,
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    with click.progressbar(length=100, label=f"Rendering {width}x{height}") as bar:
        def advance(fraction: float) -> None:
            bar.update(int(fraction * 100) - bar.pos)

        try:
            result = render(request, output, progress=advance, poster_path=poster)
        except EngineError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(
        f"Wrote {output} ({result.width}x{result.height}, {result.fps} fps, "
        f"{result.frame_count} frames, seed {seed})"
    )


main.add_command(remote)


@main.group(name="keys")
def keys_group() -> None:
    """Create, list and revoke API keys, and set their rate limits and webhooks."""


class RateLimitType(click.ParamType):
    """120/minute (N/second, N/minute, N/hour or N/day), none, or default (the server's)."""

    name = "LIMIT"

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from vidgate.auth.rate_limits import SERVER_DEFAULT, parse_limit

        if value != SERVER_DEFAULT:
            try:
                parse_limit(value)
            except ValueError as exc:
                self.fail(str(exc), param, ctx)
        return value


RATE_LIMIT_HELP = "Requests the key may make, e.g. 120/minute, or none (default: VIDGATE_RATE_LIMIT)."
GENERATION_LIMIT_HELP = ("Generation requests the key may make, e.g. 10/minute, or none "
                         "(default: VIDGATE_GENERATION_RATE_LIMIT).")


@keys_group.command("create")
@click.option("--name", required=True, help="A label for the key.")
@click.option("--scopes", default="video,jobs,usage", show_default=True,
              help="Comma-separated: video, jobs, usage.")
@click.option("--credits", type=click.IntRange(min=0), default=KEY_CREDITS, show_default=True,
              help="Credit allowance.")
@click.option("--video-seconds", type=click.IntRange(min=0), default=KEY_SECONDS, show_default=True,
              help="Video seconds allowance.")
@click.option("--sandbox", is_flag=True, help="A sandbox key (sk_test_...): local engine only.")
@click.option("--rate-limit", type=RateLimitType(), default=None, help=RATE_LIMIT_HELP)
@click.option("--generation-rate-limit", type=RateLimitType(), default=None, help=GENERATION_LIMIT_HELP)
@click.option("--webhook-url", default=None, metavar="URL",
              help="Where the events of the key's jobs go unless a request names its own webhook_url.")
def keys_create(
    name: str, scopes: str, credits: int, video_seconds: int, sandbox: bool,
    rate_limit: str | None, generation_rate_limit: str | None, webhook_url: str | None,
) -> None:
    """Create a key. Its webhook signing secret and the key itself are printed once, the key
    alone on the last line."""
    from vidgate.auth import service as keys

    settings = settings_or_exit()
    _check_webhook_url(settings, webhook_url)
    scope_list = [s.strip() for s in scopes.split(",") if s.strip()]

    async def create(sessions: Sessions) -> tuple[ApiKey, str]:
        return await keys.create_key(
            sessions, name=name, scopes=scope_list, credits=credits,
            video_seconds=video_seconds, sandbox=sandbox,
            rate_limit=rate_limit, generation_rate_limit=generation_rate_limit, webhook_url=webhook_url,
        )

    try:
        row, secret = with_database(settings, create)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--scopes") from exc
    kind = "sandbox" if row.sandbox else "live"
    click.echo(f"Created {kind} key {row.id} ({row.name}) with scopes {','.join(row.scopes)}, "
               f"{row.credits_limit} credits, {row.seconds_limit} video seconds.")
    if row.webhook_url:
        click.echo(f"Webhooks go to {row.webhook_url}")
    click.echo(f"Webhook signing secret (shown once): {row.webhook_secret}")
    click.echo(secret)


def _check_webhook_url(settings: Settings, url: str | None) -> None:
    from vidgate.media.fetch import source_policy
    from vidgate.webhooks.urls import why_webhook_refused

    problem = why_webhook_refused(url, source_policy(settings)) if url else None
    if problem:
        raise click.BadParameter(f"the URL {problem}", param_hint="--webhook-url")


@keys_group.command("list")
def keys_list() -> None:
    """List keys (prefixes only: keys themselves are not stored)."""
    from vidgate.auth import service as keys

    rows = with_database(settings_or_exit(), keys.list_keys, create=False)
    click.echo(f"{'ID':22} {'PREFIX':16} {'KIND':8} {'SCOPES':18} {'CREDITS':>17} {'SECONDS':>13}  NAME")
    for row in rows:
        kind = "revoked" if row.revoked_at else ("sandbox" if row.sandbox else "live")
        click.echo(
            f"{row.id:22} {row.key_prefix + '…':16} {kind:8} {','.join(row.scopes):18} "
            f"{row.credits_remaining:>8}/{row.credits_limit:<8} "
            f"{row.seconds_remaining:>6}/{row.seconds_limit:<6}  {row.name}"
        )


@keys_group.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key by its ID (key_...)."""
    from vidgate.auth import service as keys

    async def revoke(sessions: Sessions) -> bool:
        return await keys.revoke_key(sessions, key_id)

    if not with_database(settings_or_exit(), revoke, create=False):
        raise click.ClickException(f"No active key with ID {key_id}")
    click.echo(f"Revoked {key_id}")


@keys_group.command("webhook")
@click.argument("key_id")
@click.option("--url", default=None, metavar="URL", help="Where the events of the key's jobs go by default.")
@click.option("--clear-url", is_flag=True, help="Send events only where a request names a webhook_url.")
@click.option("--rotate-secret", is_flag=True,
              help="Give the key a new signing secret (printed once); servers sign with it within "
                   "VIDGATE_KEY_CACHE_SECONDS.")
def keys_webhook(key_id: str, url: str | None, clear_url: bool, rotate_secret: bool) -> None:
    """Set a key's default webhook URL, or give it a new signing secret. Servers apply it
    within VIDGATE_KEY_CACHE_SECONDS."""
    from vidgate.auth import service as keys

    if url is not None and clear_url:
        raise click.UsageError("give --url or --clear-url, not both")
    if url is None and not (clear_url or rotate_secret):
        raise click.UsageError("give --url, --clear-url or --rotate-secret")
    settings = settings_or_exit()
    _check_webhook_url(settings, url)

    async def change(sessions: Sessions) -> tuple[ApiKey | None, str | None]:
        before = await keys.webhook_secrets(sessions, [key_id])
        row = await keys.set_webhook(
            sessions, key_id, url=url, change_url=url is not None or clear_url, rotate_secret=rotate_secret
        )
        return row, before.get(key_id)

    row, old_secret = with_database(settings, change, create=False)
    if row is None:
        raise click.ClickException(f"No key with ID {key_id}")
    click.echo(f"{key_id}: webhooks go to {row.webhook_url}" if row.webhook_url
               else f"{key_id}: no default webhook URL (requests may name one)")
    if row.webhook_secret != old_secret:
        click.echo(f"Webhook signing secret (shown once): {row.webhook_secret}")


@keys_group.command("limits")
@click.argument("key_id")
@click.option("--rate-limit", type=RateLimitType(), default=None,
              help="Requests the key may make, e.g. 120/minute; none; or default (the server's).")
@click.option("--generation-rate-limit", type=RateLimitType(), default=None,
              help="Generation requests the key may make, e.g. 10/minute; none; or default.")
def keys_limits(key_id: str, rate_limit: str | None, generation_rate_limit: str | None) -> None:
    """Set a key's rate limits. Servers apply them within VIDGATE_KEY_CACHE_SECONDS."""
    from vidgate.auth import service as keys

    given = {"rate_limit": rate_limit, "generation_rate_limit": generation_rate_limit}
    changes = {name: value for name, value in given.items() if value is not None}
    if not changes:
        raise click.UsageError("give --rate-limit, --generation-rate-limit or both")

    async def set_limits(sessions: Sessions) -> bool:
        return await keys.set_rate_limits(sessions, key_id, **changes)

    if not with_database(settings_or_exit(), set_limits, create=False):
        raise click.ClickException(f"No key with ID {key_id}")
    shown = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in changes.items())
    click.echo(f"{key_id}: {shown}")


@main.group(name="models")
def models_group() -> None:
    """The models this server can serve."""


@models_group.command("check")
def models_check() -> None:
    """Say which GPU models have their weights in place, and what is missing where. Exits 1
    when none can be served."""
    from vidgate.backends.gpu.config import GpuSettings
    from vidgate.backends.gpu.plugin import missing_packages, weights

    settings, gpu = settings_or_exit(), GpuSettings()
    packages = missing_packages()
    if packages:
        click.echo(f"The GPU models need {', '.join(packages)}: pip install 'vidgate[gpu]'")
    by_folder: dict[Path, list[Any]] = {}
    for found in weights(settings, gpu):
        by_folder.setdefault(found.folder, []).append(found)
    ready = 0
    for folder, models in by_folder.items():
        ids, missing, source = ", ".join(m.model.id for m in models), models[0].missing, models[0].model.weights_from
        if not missing:
            ready += len(models)
            click.echo(f"{ids}: ready ({folder.resolve()})")
            continue
        click.echo(f"{ids}: missing {'; '.join(missing)}")
        click.echo(f"  put the diffusers-format weights of {source} in {folder.resolve()}, e.g. "
                   f"`hf download {source} --local-dir {folder.resolve()}` where there is internet")
    if not ready or packages:
        raise SystemExit(1)
