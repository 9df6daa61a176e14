"""Logs: one line per record, JSON for machines (`VIDGATE_LOG_FORMAT=json`, the default when
the output is not a terminal) or text for people. Every line logged while a job runs carries
its id; a job's every state change is a line of its own (jobs/store.py). No line holds an API
key (they never reach a log call) or an output link's token (uvicorn's access lines are
redacted here)."""

from __future__ import annotations

import logging
import logging.config
import re
import sys
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

current_job: ContextVar[str | None] = ContextVar("vidgate_current_job", default=None)

# /files/{job}/{token}/{name}: the token is the link's credential.
_LINK_TOKEN = re.compile(r"(/files/[^/\s?]+/)[^/\s?]+(/)")


class JobIdFilter(logging.Filter):
    """Adds the id of the job being run (if any) to every record, as `job_id`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "job_id", None) is None:
            record.job_id = current_job.get() or _task_job_id(record)
        return True


def _task_job_id(record: logging.LogRecord) -> str | None:
    """The vidgate job a procrastinate record is about: its worker logs the task as `job`,
    whose arguments name the job (jobs/queue.py)."""
    task = getattr(record, "job", None)
    arguments = task.get("task_kwargs") if isinstance(task, dict) else None
    job_id = arguments.get("job_id") if isinstance(arguments, dict) else None
    return job_id if isinstance(job_id, str) else None


class RedactLinkTokens(logging.Filter):
    """Replaces the token of output links in a record's message and arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        return True


def redact(text: str) -> str:
    """
    >>> redact("GET /files/job_1/secret-token/video.mp4 HTTP/1.1")
    'GET /files/job_1/…/video.mp4 HTTP/1.1'
    """
    return _LINK_TOKEN.sub(r"\1…\2", text)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        job_id = getattr(record, "job_id", None)
        return f"{line} [{job_id}]" if job_id else line


def logging_config(log_format: str) -> dict[str, Any]:
    """A `logging.config.dictConfig` for vidgate's processes, uvicorn's loggers included."""
    json_lines = log_format == "json" or (log_format == "auto" and not sys.stderr.isatty())
    formatter: dict[str, Any] = (
        {"()": JsonFormatter, "fmt": "%(asctime)s %(created)f %(levelname)s %(name)s %(message)s %(job_id)s",
         "rename_fields": {"asctime": "time", "created": "ts", "levelname": "level", "name": "logger"}}
        if json_lines
        else {"()": TextFormatter, "fmt": "%(asctime)s %(levelname)-7s %(name)s: %(message)s"}
    )
    handler = {"class": "logging.StreamHandler", "stream": "ext://sys.stderr", "formatter": "default",
               "filters": ["job_id", "redact"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"job_id": {"()": JobIdFilter}, "redact": {"()": RedactLinkTokens}},
        "formatters": {"default": formatter},
        "handlers": {"default": handler},
        "root": {"handlers": ["default"], "level": "INFO"},
        "loggers": {
            **{
                name: {"handlers": ["default"], "level": "INFO", "propagate": False}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
            },
            # a line per request to fal or the bucket, or per queue task (the maintenance tasks
            # run every few seconds; a job's own lines say what it does), would drown the rest
            **{name: {"level": "WARNING"} for name in ("httpx", "httpcore", "botocore", "boto3", "procrastinate")},
        },
    }


def setup_logging(log_format: str) -> dict[str, Any]:
    """Apply the configuration; return it (uvicorn takes it as its `log_config`)."""
    config = logging_config(log_format)
    logging.config.dictConfig(config)
    return config
