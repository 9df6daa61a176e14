"""vidgate: a self-hostable video generation API server, and a client for it (`vidgate.Client`,
`vidgate.AsyncClient`, imported on first use so that the server's command line stays quick)."""

from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """The client's names (Client, AsyncClient, Job, the exceptions...), from vidgate.sdk."""
    import importlib

    if name.startswith("__"):  # tools probing for dunders need not load the client
        raise AttributeError(name)
    sdk = importlib.import_module("vidgate.sdk")
    if name in sdk.__all__:
        return getattr(sdk, name)
    raise AttributeError(f"module 'vidgate' has no attribute {name!r}")
