"""Webhook endpoints: a subscription's URL and the addresses a delivery may reach.

Standard Webhooks §"Server side request forgery (SSRF)": endpoint URLs come from organisations,
and the platform calls them from inside its network, so it refuses to call into internal
networks. Rules here, applied when an endpoint is registered *and* to the address a delivery
actually connects to (a name can resolve elsewhere later: DNS rebinding):

1. the URL is ``http`` or ``https`` (RFC 9110 §4.2), absolute, with a host, no user
   information, no fragment, at most 2,048 characters;
2. the address is never link-local (169.254.0.0/16 holds cloud metadata services; fe80::/10),
   unspecified, multicast or reserved;
3. loopback and private ranges (RFC 1918, fc00::/7, 100.64.0.0/10 shared space) only when the
   operator allows them (``CIVIC_EVENTS_ALLOW_PRIVATE=1``: tests, benchmarks and a platform
   whose subscribers sit on its own network).

Standard Webhooks §"Enforcing HTTPS" advises HTTPS; plain ``http`` is accepted because the
payload is signed (and thin by default), and because an operator's private endpoints need it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from civicstack.errors import InputError

MAX_URL_LENGTH: Final = 2048
_SCHEMES = ("http", "https")
_METADATA = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fd00:ec2::/32"))


@dataclass(frozen=True)
class EndpointUrl:
    """A checked endpoint URL, split for the HTTP client."""

    url: str
    scheme: str
    host: str
    port: int
    target: str  # path and query, what the request line carries


def parse_endpoint_url(url: object) -> EndpointUrl:
    """Rule 1: an absolute http(s) URL with a host; ``invalid_request`` otherwise."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH:
        raise InputError("invalid_request", f"an endpoint URL is 1 to {MAX_URL_LENGTH} characters")
    if not url.isascii() or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        raise InputError("invalid_request", "an endpoint URL is ASCII without spaces or controls")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InputError("invalid_request", "the endpoint URL is malformed") from exc
    if parts.scheme.lower() not in _SCHEMES:
        raise InputError("invalid_request", "an endpoint URL is http:// or https://")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise InputError("invalid_request", "an endpoint URL names a host and no user")
    if parts.fragment or "#" in url:
        raise InputError("invalid_request", "an endpoint URL has no fragment")
    scheme = parts.scheme.lower()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return EndpointUrl(
        url=url,
        scheme=scheme,
        host=parts.hostname,
        port=port or (443 if scheme == "https" else 80),
        target=target,
    )


def check_address(address: str, *, allow_private: bool) -> None:
    """Rules 2 and 3 for one IP address the endpoint resolves or connects to."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError as exc:
        raise InputError("invalid_request", "the endpoint's address is not an IP address") from exc
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if (
        ip.is_link_local
        or ip.is_unspecified
        or ip.is_multicast
        or ip.is_reserved
        or any(ip in net for net in _METADATA)
    ):
        raise InputError(
            "forbidden", f"endpoints may not be at {ip} (link-local, metadata or reserved)"
        )
    internal = ip.is_loopback or ip.is_private or ip in ipaddress.ip_network("100.64.0.0/10")
    if internal and not allow_private:
        raise InputError(
            "forbidden",
            f"endpoints may not be at the private address {ip} (CIVIC_EVENTS_ALLOW_PRIVATE)",
        )
