"""Where webhooks may go: URLs are judged by the addresses they resolve to."""

from ipaddress import ip_address

import pytest

from jobyard_webhooks import (
    DestinationPolicy,
    UnsafeDestinationError,
    address_problem,
    resolve_destination,
    url_problem,
)

pytestmark = pytest.mark.unit

STRICT = DestinationPolicy(allowed_networks=[])
LOOPBACK_ALLOWED = DestinationPolicy(allowed_networks=["127.0.0.0/8"])


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.9.9.9", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "cloud metadata"),
        ("fd00:ec2::254", "cloud metadata"),
        ("100.100.100.200", "cloud metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("100.64.0.1", "not a publicly routable"),
        ("192.0.2.10", "private"),  # documentation range
        ("::ffff:10.0.0.1", "10.0.0.1 is a private"),  # IPv4-mapped
        ("::ffff:127.0.0.1", "loopback"),
        ("64:ff9b::a9fe:a9fe", "169.254.169.254 is a cloud metadata"),  # NAT64
    ],
)
def test_non_public_addresses_are_refused(address: str, kind: str) -> None:
    problem = address_problem(ip_address(address), STRICT)
    assert problem is not None
    assert kind in problem


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed(address: str) -> None:
    assert address_problem(ip_address(address), STRICT) is None


def test_allowing_loopback_keeps_private_metadata_and_ipv6_loopback_refused() -> None:
    assert address_problem(ip_address("127.0.0.1"), LOOPBACK_ALLOWED) is None
    assert address_problem(ip_address("::ffff:127.0.0.1"), LOOPBACK_ALLOWED) is None
    for refused in ("::1", "10.0.0.1", "192.168.0.1", "169.254.169.254", "172.17.0.1"):
        assert address_problem(ip_address(refused), LOOPBACK_ALLOWED) is not None, refused


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/hook", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("gopher://127.0.0.1:6379/_", "http:// or https://"),
        ("example.com/hook", "http:// or https://"),
        ("http:///hook", "no host"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://example.com/hook#part", "fragment"),
        ("https://example.com/" + "a" * 2100, "longer than"),
    ],
)
def test_malformed_urls_are_refused_by_their_form(url: str, problem: str) -> None:
    found = url_problem(url)
    assert found is not None
    assert problem in found


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://10.0.0.5:8080/hook", "private"),
        ("http://[::1]:8080/hook", "loopback"),
        ("http://[::ffff:a00:1]/hook", "private"),
        ("http://localhost:8080/hook", "localhost resolves to 127.0.0.1 is a loopback"),
        ("http://2130706433/hook", "resolves to 127.0.0.1"),  # 127.0.0.1 as one number
        ("http://0x7f.1/hook", "resolves to 127.0.0.1"),
        ("https://no-such-host.invalid/hook", "does not resolve"),
    ],
)
async def test_resolution_refuses_what_reaches_non_public_addresses(url: str, reason: str) -> None:
    with pytest.raises(UnsafeDestinationError, match=reason):
        await resolve_destination(url, STRICT)


async def test_a_name_for_loopback_is_refused_unless_loopback_is_allowed() -> None:
    with pytest.raises(UnsafeDestinationError, match="loopback"):
        await resolve_destination("http://localhost:9/hook", STRICT)
    destination = await resolve_destination("http://localhost:9/hook?x=1", LOOPBACK_ALLOWED)
    assert destination.address == ip_address("127.0.0.1")
    assert destination.pinned_url == "http://127.0.0.1:9/hook?x=1"
    assert destination.host_header == "localhost:9"
    assert destination.hostname == "localhost"


async def test_a_pinned_url_keeps_the_name_for_tls_and_host_and_drops_credentials() -> None:
    destination = await resolve_destination(
        "https://user:pw@127.0.0.1/a/b?c=d", DestinationPolicy(allowed_networks=["127.0.0.1/32"])
    )
    assert destination.pinned_url == "https://127.0.0.1:443/a/b?c=d"
    assert destination.host_header == "127.0.0.1"
