"""Connections to URLs that clients name: only to public addresses, and only to the address
that was checked.

A source URL comes from the client, so the server must not become its way into the private
network (SSRF), nor a way to learn which ports of that network are open. One address policy
(ssrfguard's table of special-purpose blocks, widened only by settings) is applied twice:

- when a job is submitted, from the URL's text alone (`why_refused`): a host that is a private
  or local address in any spelling the platform's resolver reads as one (dotted, shorthand,
  decimal, hexadecimal, octal, mixed, IPv6 forms that carry an IPv4 address) or a localhost
  name is refused, with nothing looked up or connected to;
- when a worker fetches (`guarded_client`): the name is resolved once, every address it
  resolves to is checked before any connection is opened (a name with a single refused
  address is refused whole), and the connection goes to a checked address, never to the name.
  Redirects are fetched the same way.

`UNREACHABLE` words every refused or unreachable host alike, so the answer to a URL never says
whether its host was refused, does not exist, or has a closed port.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpx
from ssrfguard import BlockedAddressError, BlockedURLError, Policy
from ssrfguard.httpx import AsyncClient as GuardedAsyncClient

__all__ = [
    "EVERY_ADDRESS",
    "MAX_REDIRECTS",
    "UNREACHABLE",
    "address_policy",
    "guarded_client",
    "numeric_address",
    "why_refused",
]

# What `allow_private_sources` widens the policy to.
EVERY_ADDRESS = ("0.0.0.0/0", "::/0")
# Media hosts listen on any port; the address is what the policy is about.
_ANY_PORT = frozenset(range(1, 65536))
MAX_REDIRECTS = 5

UNREACHABLE = "{host} could not be reached at a public address"
_PRIVATE = "must be a public URL: {host} is a private or local address"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_policy(allowed_networks: Iterable[str] = ()) -> Policy:
    """Every globally reachable address on any port, plus `allowed_networks` (CIDR blocks an
    operator lets through, such as a media server on the LAN)."""
    return Policy(
        allowed_networks=tuple(allowed_networks),
        allowed_ports=_ANY_PORT,
        max_redirects=MAX_REDIRECTS,
    )


def guarded_client(policy: Policy, *, timeout: httpx.Timeout) -> httpx.AsyncClient:
    """A client that connects only to addresses `policy` permits, checked before connecting.

    Redirects are not followed by the client: callers follow them hop by hop, so an error can
    name the host that failed. Proxy settings from the environment are ignored, since a proxy
    resolves names itself and the checked address could not be pinned.
    """
    return GuardedAsyncClient(policy=policy, timeout=timeout, trust_env=False, follow_redirects=False)


def numeric_address(host: str) -> IPAddress | None:
    """The address the platform's resolver reads `host` as without a lookup (so the legacy
    IPv4 forms inet_aton accepts, such as `127.1` or `0x7f000001`), or None for a name."""
    try:
        infos = socket.getaddrinfo(host.rstrip("."), None, flags=socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    return ipaddress.ip_address(infos[0][4][0])


def why_refused(url: str, policy: Policy) -> str | None:
    """Why `url` (http or https) cannot be fetched, judged from its text alone, or None.

    The reason completes a sentence that starts with the field's name.
    """
    try:
        host = httpx.URL(url).raw_host.decode("ascii").lower()
    except httpx.InvalidURL:  # e.g. a dotted address with leading zeros, which httpx refuses
        host = urlsplit(url).hostname or ""
    name = host.rstrip(".")
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: always loopback
        address: IPAddress | None = ipaddress.ip_address("127.0.0.1")
    else:
        address = numeric_address(host)
    if address is not None and not policy.permits_address(address):
        return _PRIVATE.format(host=host)
    try:
        policy.check_url(url)
    except BlockedAddressError:
        return _PRIVATE.format(host=host)
    except BlockedURLError as exc:
        return f"is not a URL this server fetches: {exc.reason}"
    return None
