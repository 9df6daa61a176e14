"""vidgate: a self-hostable video generation API server, and a client for it (`vidgate.Client`,
`vidgate.AsyncClient`, imported on first use so that the server's command line stays quick)."""

from typing import Any

__version__ = "0.1.0"

_CLIENT_NAMES = ("Client", "AsyncClient", "Job", "Upload", "VidgateError")


def __getattr__(name: str) -> Any:
    if name in _CLIENT_NAMES:
        from vidgate import sdk

        return getattr(sdk, name)
    raise AttributeError(f"module 'vidgate' has no attribute {name!r}")
