"""Backends are plugins. The built-in ones are loaded exactly as an outside one is: a plugin
factory named by a dotted path (`DEFAULT_PLUGINS`) or by an entry point in the
`vidgate.backends` group of an installed package.

A plugin factory takes the server's settings and returns a `BackendPlugin`: the provider name
its jobs record, the lane (queue) they run on, the models it serves, whether this server is
configured to run them, how many of its jobs one worker process runs at once, how to build the
backend on a worker, and the routes it adds to the API (fal's webhook). A plugin reads its own
settings (fal's come from `VIDGATE_FAL_*` and a `[fal]` table in `vidgate.toml`).

An outside package registers its factory in its `pyproject.toml`:

    [project.entry-points."vidgate.backends"]
    acme = "acme_vidgate:plugin"
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib.metadata import entry_points

import httpx
from fastapi import APIRouter

from vidgate.backends.base import Backend
from vidgate.catalog.models import ModelSpec
from vidgate.config import Settings
from vidgate.media.limits import SourceLimits
from vidgate.storage import Storage

ENTRY_POINT_GROUP = "vidgate.backends"
DEFAULT_PLUGINS = ("vidgate.backends.local:plugin", "vidgate.backends.fal:plugin", "vidgate.backends.gpu.plugin:plugin")
LANES = ("local", "fal", "gpu")


@dataclass(frozen=True)
class BackendServices:
    """What a worker gives a backend it builds."""

    settings: Settings
    storage: Storage
    http: httpx.AsyncClient  # fetches client-named URLs (sources) through the address guard
    source_limits: SourceLimits


@dataclass(frozen=True)
class BackendPlugin:
    name: str  # the provider a job records, e.g. "fal"
    lane: str  # the queue its jobs run on: local (CPU renders), fal (waiting on a provider), gpu
    models: tuple[ModelSpec, ...]
    create: Callable[[BackendServices], Backend]
    configured: bool = True  # whether this server can run its jobs (fal: a key is set)
    concurrency: int = 1  # its jobs one worker process runs at once
    router: APIRouter | None = None  # routes it adds under /api/v1

    def __post_init__(self) -> None:
        if self.lane not in LANES:
            raise ValueError(f"backend {self.name}: lane must be one of {', '.join(LANES)}")
        if self.concurrency < 1:
            raise ValueError(f"backend {self.name}: concurrency must be at least 1")


PluginFactory = Callable[[Settings], BackendPlugin]


def load_plugins(settings: Settings, factories: Iterable[PluginFactory] | None = None) -> list[BackendPlugin]:
    """The plugins of this server: the given factories, or the built-in ones and those of
    every installed package, in that order. Two plugins may not share a name or a model."""
    if factories is None:
        factories = [_load(path) for path in DEFAULT_PLUGINS]
        factories += [point.load() for point in entry_points(group=ENTRY_POINT_GROUP)]
    plugins = [factory(settings) for factory in factories]
    _check_unique(plugins)
    return plugins


def _load(path: str) -> PluginFactory:
    module, _, name = path.partition(":")
    factory: PluginFactory = getattr(importlib.import_module(module), name)
    return factory


def _check_unique(plugins: list[BackendPlugin]) -> None:
    names: set[str] = set()
    models: dict[str, str] = {}
    for plugin in plugins:
        if plugin.name in names:
            raise ValueError(f"two backend plugins are named {plugin.name}")
        names.add(plugin.name)
        for model in plugin.models:
            if model.id in models:
                raise ValueError(f"model {model.id} is served by both {models[model.id]} and {plugin.name}")
            models[model.id] = plugin.name


def lane_slots(plugins: Iterable[BackendPlugin]) -> dict[str, int]:
    """How many jobs of each lane one worker process runs at once: the concurrency of the
    configured backends on it."""
    slots: dict[str, int] = {}
    for plugin in plugins:
        if plugin.configured:
            slots[plugin.lane] = slots.get(plugin.lane, 0) + plugin.concurrency
    return slots
