"""`vidgate remote ...`: the command-line client of a running server (vidgate.Client).

On a terminal a job's progress is a bar; in a script, one plain line per change.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from vidgate.catalog import MODES

if TYPE_CHECKING:
    from vidgate.sdk import Client, Job



def _client_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--api-key", envvar="VIDGATE_API_KEY", required=True,
                           help="The key to use (env VIDGATE_API_KEY).")(command)
    return click.option("--base-url", envvar="VIDGATE_BASE_URL", default="http://127.0.0.1:8000", show_default=True,
                        help="The server (env VIDGATE_BASE_URL).")(command)


@contextlib.contextmanager
def _client(base_url: str, api_key: str) -> Iterator[Client]:
    """A client whose errors end the command with their message."""
    from vidgate.sdk import Client, VidgateError

    try:
        with Client(base_url, api_key) as client:
            yield client
    except VidgateError as exc:
        raise click.ClickException(exc.message) from exc


@contextlib.contextmanager
def _progress(job_id: str) -> Iterator[Callable[[Job], None]]:
    """What to call at each change of the job: a bar on a terminal, plain lines elsewhere."""
    if not sys.stderr.isatty():
        def line(job: Job) -> None:
            place = f", #{job.queue_position} in the queue" if job.queue_position else ""
            click.echo(f"{job.id} {job.status} {job.progress}%{place}", err=True)

        yield line
        return
    with click.progressbar(length=100, label=job_id, file=sys.stderr, show_eta=False) as bar:
        def advance(job: Job) -> None:
            bar.label = f"{job.id} {job.status}"
            bar.update(job.progress - bar.pos)

        yield advance


def _source(value: str | None, option: str) -> str | Path | None:
    """A local file (uploaded by the client) or a URL, as given."""
    if value is None or value.startswith(("http://", "https://", "data:")):
        return value
    if not Path(value).is_file():
        raise click.BadParameter(f"{value!r} is neither a file nor an http(s) URL", param_hint=option)
    return Path(value)


@click.group(name="remote")
def remote() -> None:
    """Use a running vidgate server: generate, and follow or cancel jobs."""


@remote.command("generate")
@click.argument("prompt")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Where to save the video.")
@click.option("--model", help="A model id (GET /api/v1/models); default: the mode's.")
@click.option("--mode", type=click.Choice(MODES), default="text_to_video", show_default=True)
@click.option("--source-image", help="An image file (uploaded for you) or URL, for image_to_video.")
@click.option("--source-video", help="A video file (uploaded for you) or URL, for video_to_video.")
@click.option("--duration", type=float, help="Seconds.")
@click.option("--resolution", help="720p, 1080p or 4k.")
@click.option("--aspect-ratio", help="16:9, 9:16, 1:1, 4:3, 3:4 or auto.")
@click.option("--fps", type=int, help="30 or 60.")
@click.option("--seed", type=int)
@click.option("--negative-prompt")
@click.option("--no-wait", is_flag=True, help="Print the job id and return at once.")
@_client_options
def generate(prompt: str, output: Path | None, no_wait: bool, base_url: str, api_key: str, **fields: Any) -> None:
    """Make a video on the server; with -o, save it there once made."""
    params = {
        "model": fields["model"], "mode": fields["mode"], "duration_seconds": fields["duration"],
        "resolution": fields["resolution"], "aspect_ratio": fields["aspect_ratio"], "fps": fields["fps"],
        "seed": fields["seed"], "negative_prompt": fields["negative_prompt"],
        "source_image": _source(fields["source_image"], "--source-image"),
        "source_video": _source(fields["source_video"], "--source-video"),
    }
    _check_output(output)
    with _client(base_url, api_key) as client:
        job = client.videos.generate(prompt, wait=False, **params)
        if no_wait:
            click.echo(job.id)
            return
        _finish(client, job.id, output)


def _check_output(output: Path | None) -> None:
    """Refuse a place the video cannot be saved before anything is made (and charged)."""
    if output is not None and not output.parent.is_dir():
        raise click.BadParameter(f"{output.parent} is not a folder", param_hint="--output")


def _finish(client: Client, job_id: str, output: Path | None) -> None:
    with _progress(job_id) as report:
        job = client.jobs.wait(job_id, on_progress=report)
    if job.status != "completed":
        raise click.ClickException(f"{job.id} {job.status}: {job.error or 'no video'}")
    if output is not None:
        client.download(job, output)
        click.echo(f"{job.id}: {job.width}x{job.height}, {job.duration_seconds} s, saved to {output}")
    else:
        click.echo(f"{job.id}: {job.video_url}")


@remote.group("jobs")
def jobs() -> None:
    """The key's jobs."""


@jobs.command("list")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--pending", is_flag=True, help="Only pending or processing jobs.")
@_client_options
def jobs_list(limit: int, pending: bool, base_url: str, api_key: str) -> None:
    with _client(base_url, api_key) as client:
        for job in client.jobs.list(limit=limit, pending=pending):
            click.echo(f"{job.id}  {job.status:<10} {job.progress:>3}%  {job.model}")


@jobs.command("show")
@click.argument("job_id")
@_client_options
def jobs_show(job_id: str, base_url: str, api_key: str) -> None:
    import json

    with _client(base_url, api_key) as client:
        click.echo(json.dumps(client.jobs.get(job_id).raw, indent=2))


@jobs.command("wait")
@click.argument("job_id")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Where to save the video.")
@_client_options
def jobs_wait(job_id: str, output: Path | None, base_url: str, api_key: str) -> None:
    """Follow a job to its end (and save its video)."""
    _check_output(output)
    with _client(base_url, api_key) as client:
        _finish(client, job_id, output)


@jobs.command("cancel")
@click.argument("job_id")
@_client_options
def jobs_cancel(job_id: str, base_url: str, api_key: str) -> None:
    with _client(base_url, api_key) as client:
        job = client.jobs.cancel(job_id)
        click.echo(f"{job.id} {job.status}")

