"""Where a webhook may be sent: a server-side request forgery guard.

A URL is checked by the addresses its host resolves to, not by its spelling (`localhost`,
`2130706433`, `[::ffff:10.0.0.1]` and a DNS name pointing at 10.0.0.1 are all caught), and the
request is then sent to the very address that was checked (`Destination.pinned_url`), so a DNS
answer that changes between the check and the connection (DNS rebinding) cannot redirect it.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, IPv6Network, ip_address
from urllib.parse import SplitResult, urlsplit

from jobyard_webhooks.settings import DestinationPolicy

IPAddress = IPv4Address | IPv6Address

MAX_URL_LENGTH = 2048
RESOLVE_SECONDS = 5.0
SCHEMES = {"http": 80, "https": 443}
NAT64 = IPv6Network("64:ff9b::/96")
"""IPv6 addresses that a NAT64 gateway turns into the IPv4 address in their last 32 bits."""
METADATA = {
    ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, DigitalOcean
    ip_address("169.254.170.2"),  # AWS ECS task metadata
    ip_address("100.100.100.200"),  # Alibaba Cloud
    ip_address("fd00:ec2::254"),  # AWS over IPv6
}


class UnsafeDestinationError(ValueError):
    """The URL may not be used as a webhook destination; the message says why."""


@dataclass(frozen=True)
class Destination:
    url: str
    address: IPAddress
    """The checked address the request goes to."""

    @property
    def _parts(self) -> SplitResult:
        return urlsplit(self.url)

    @property
    def hostname(self) -> str:
        """The name the receiver expects: sent as `Host` and as the TLS server name."""
        return self._parts.hostname or ""

    @property
    def host_header(self) -> str:
        return self._parts.netloc.rpartition("@")[2]

    @property
    def pinned_url(self) -> str:
        parts = self._parts
        host = f"[{self.address}]" if self.address.version == 6 else str(self.address)
        port = parts.port or SCHEMES[parts.scheme]
        return parts._replace(netloc=f"{host}:{port}").geturl()


def url_problem(url: str) -> str | None:
    """What is wrong with the URL's form, if anything (its addresses are checked apart)."""
    if len(url) > MAX_URL_LENGTH:
        return f"longer than {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises on a port that is not a number in range)
    except ValueError as exc:
        return f"not a valid URL: {exc}"
    if parts.scheme not in SCHEMES:
        return "must start with http:// or https://"
    if not parts.hostname:
        return "has no host"
    if parts.fragment:
        return "may not have a #fragment (it is never sent)"
    return None


def address_problem(address: IPAddress, policy: DestinationPolicy) -> str | None:
    """Why `address` may not be reached, or None when it may."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return address_problem(embedded, policy)
    if any(address in network for network in policy.allowed_networks):
        return None
    if address in METADATA:
        return f"{address} is a cloud metadata address"
    for kind, found in (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("private", address.is_private),
        ("multicast", address.is_multicast),
    ):
        if found:
            return f"{address} is a {kind} address"
    if not address.is_global:
        return f"{address} is not a publicly routable address"
    return None


def _embedded_ipv4(address: IPAddress) -> IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped, NAT64), if any."""
    if not isinstance(address, IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return None


async def resolve_destination(url: str, policy: DestinationPolicy) -> Destination:
    """The address to send `url`'s requests to; UnsafeDestinationError when the URL is
    malformed, does not resolve, or any of its addresses may not be reached (a name with one
    private address among public ones is refused: which one a client uses is not ours to say)."""
    if (problem := url_problem(url)) is not None:
        raise UnsafeDestinationError(problem)
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        async with asyncio.timeout(RESOLVE_SECONDS):
            found = await asyncio.get_running_loop().getaddrinfo(
                host, parts.port or SCHEMES[parts.scheme], type=socket.SOCK_STREAM
            )
    except (OSError, TimeoutError):
        raise UnsafeDestinationError(f"{host} does not resolve") from None
    addresses = list(dict.fromkeys(ip_address(str(info[4][0]).partition("%")[0]) for info in found))
    for address in addresses:
        if (problem := address_problem(address, policy)) is not None:
            shown = f"{host} resolves to {problem}" if str(address) != host else problem
            raise UnsafeDestinationError(f"refused: {shown}")
    if not addresses:
        raise UnsafeDestinationError(f"{host} does not resolve")
    return Destination(url, addresses[0])
