"""The address policy on URL text alone: every spelling of a private or local address is
refused at submit, judged the way Python and the platform's resolver read the host."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from vidgate.outbound import EVERY_ADDRESS, address_policy, numeric_address, why_refused

POLICY = address_policy()

# Hosts as a URL may spell them. Most are loopback, link-local (cloud metadata) or RFC 1918
# addresses in the forms inet_aton and inet_pton accept; the last rows are public.
SPELLINGS = [
    "127.0.0.1", "127.1", "127.0.1", "2130706433", "0x7f000001", "0X7F000001", "0x7f.1",
    "0x7f.0.0.1", "0177.0.0.1", "0177.1", "017700000001", "0x7f.0x0.0x0.0x1", "127.0x0.1",
    "127.000.000.001", "0", "0.0.0.0", "0x0", "10.1", "167772161", "012.0.0.1", "0xa.0.0.1",
    "172.16.1", "2886729729", "192.168.257", "0xc0a80101", "3232235777", "169.254.169.254",
    "0xa9fea9fe", "2852039166", "169.254.43518", "0251.0376.0251.0376", "0xa9.0xfe.0xa9.0xfe",
    "100.64.0.1", "255.255.255.255", "224.0.0.1", "::1", "0:0:0:0:0:0:0:1", "::", "::ffff:127.0.0.1",
    "::ffff:7f00:1", "::ffff:a9fe:a9fe", "::127.0.0.1", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::",
    "fc00::1", "fd12:3456::1", "fe80::1", "ff02::1",
    "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111",
]


def bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def carried_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries: mapped, compatible, 6to4, NAT64 or Teredo."""
    if address.ipv4_mapped or address.sixtofour:
        return address.ipv4_mapped or address.sixtofour
    if address.teredo:
        return address.teredo[1]
    if address in ipaddress.ip_network("::/96") or address in ipaddress.ip_network("64:ff9b::/96"):
        return ipaddress.IPv4Address(address.packed[-4:])
    return None


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    carried = carried_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    return address.is_global and not address.is_multicast and (carried is None or is_public(carried))


def address_per_python(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def address_per_resolver(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """What the C library makes of the host without a lookup: inet_aton's forms included."""
    try:
        infos = socket.getaddrinfo(host, 80, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
    except socket.gaierror:
        return None
    return ipaddress.ip_address(infos[0][4][0])


@pytest.mark.parametrize("host", SPELLINGS)
def test_every_spelling_is_judged_by_the_address_it_means(host: str) -> None:
    by_python, by_resolver = address_per_python(host), address_per_resolver(host)
    assert by_resolver is not None, "each row is an address to the resolver"
    assert by_python in (None, by_resolver), "where Python reads one, it reads the same"
    assert numeric_address(host) == by_resolver
    refusal = why_refused(f"http://{bracketed(host)}:8080/a.png", POLICY)
    if not is_public(by_resolver):
        assert refusal == f"must be a public URL: {host.lower()} is a private or local address"
    elif by_python is None:  # a public address, but spelled as only the C library reads it
        assert refusal is not None and refusal.startswith("is not a URL this server fetches")
    else:
        assert refusal is None


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST", "localhost.", "media.localhost", "a.b.localhost."])
def test_localhost_names_are_loopback_without_a_lookup(host: str) -> None:
    assert why_refused(f"http://{host}/a.png", POLICY) == (
        f"must be a public URL: {host.lower()} is a private or local address"
    )


@pytest.mark.parametrize(
    "url",
    ["http://example.com/a.png", "https://media.example.com:8443/a.png", "http://10.0.0.1.nip.io/a.png",
     "http://xn--bcher-kva.example/a.png", "http://localhost.example.com/a.png"],
)
def test_names_pass_the_text_check_and_are_resolved_when_fetched(url: str) -> None:
    assert why_refused(url, POLICY) is None


def test_credentials_in_the_url_are_refused() -> None:
    refusal = why_refused("http://user:secret@example.com/a.png", POLICY)
    assert refusal is not None and refusal.startswith("is not a URL this server fetches: carries credentials")


def test_an_allowed_network_lets_its_addresses_through_and_no_others() -> None:
    lan = address_policy(["10.20.0.0/16"])
    assert why_refused("http://10.20.3.4/a.png", lan) is None
    assert why_refused("http://0xa140304/a.png", lan) is None  # 10.20.3.4 as the resolver reads it
    assert why_refused("http://10.21.0.1/a.png", lan) is not None
    everything = address_policy(EVERY_ADDRESS)
    assert why_refused("http://127.0.0.1:9000/a.png", everything) is None
    assert why_refused("http://localhost:9000/a.png", everything) is None
