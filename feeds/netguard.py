"""SSRF guard: decide whether a URL or address may be fetched, and pin connections to checked addresses.

Policy: only http(s); a source not marked internal may only reach globally routable unicast
addresses. Every address a host name resolves to is checked, and the connection is made to the
address that was checked (inside the httpcore network backend), so a DNS answer cannot change
between the check and the connect (DNS rebinding). Host header and TLS SNI keep the original name.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore
import httpx

from certmon.errors import FeedBlocked

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = frozenset({"http", "https"})

# Well-known cloud metadata endpoints (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
ULA = ipaddress.ip_network("fc00::/7")

# Host names in legacy IPv4 notation that inet_aton accepts: 2130706433, 0x7f.1, 0177.0.0.1 …
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.IGNORECASE)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address carried inside an IPv4-mapped, 6to4 or NAT64 IPv6 address, if any."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why `ip` must not be fetched from a public source, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            reason = blocked_reason(inner)
            return f"{reason} (embedded in {ip})" if reason else None
    checks: list[tuple[bool, str]] = [
        (ip in METADATA_ADDRESSES, "a cloud metadata address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT, "a carrier-grade NAT address (100.64/10)"),
        (isinstance(ip, ipaddress.IPv6Address) and ip in ULA, "a unique local address (fc00::/7)"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        (not ip.is_global, "not a globally routable address"),
    ]
    for hit, reason in checks:
        if hit:
            return reason
    return None


def parse_ip_literal(host: str) -> IPAddress | None:
    """Parse a URL host that is an IP literal (incl. [v6], decimal, octal and hex IPv4); else None."""
    candidate = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        pass
    if _LEGACY_IPV4.match(candidate):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(candidate))
        except OSError:
            return None
    return None


def never_reason(ip: IPAddress) -> str | None:
    """Why no source, internal or not, may fetch `ip`: cloud metadata, link-local, unspecified, multicast."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None and (reason := never_reason(inner)):
            return f"{reason} (embedded in {ip})"
    for hit, reason in ((ip in METADATA_ADDRESSES, "a cloud metadata address"),
                        (ip.is_link_local, "a link-local address"),
                        (ip.is_unspecified, "the unspecified address"),
                        (ip.is_multicast, "a multicast address")):
        if hit:
            return reason
    return None


def internal_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """The networks an operator lets internal sources reach (CERTMON_INTERNAL_NETWORKS)."""
    from certmon.config import get_settings

    text = get_settings().internal_networks
    return [ipaddress.ip_network(p.strip(), strict=False) for p in text.split(",") if p.strip()]


def check_address(ip: IPAddress, *, allow_internal: bool, host: str | None = None) -> None:
    """Raise FeedBlocked if `ip` is not allowed for a source with this `allow_internal` setting.

    Metadata and link-local addresses are refused for every source; an internal source may reach the
    public internet and the networks configured in CERTMON_INTERNAL_NETWORKS, nothing else."""
    via = f"{host} resolves to {ip}, which" if host and host != str(ip) else f"the address {ip}"
    never = never_reason(ip)
    if never:
        raise FeedBlocked(f"{via} is {never}; no source may fetch it")
    reason = blocked_reason(ip)
    if not reason:
        return
    if not allow_internal:
        raise FeedBlocked(f"{via} is {reason}; the source must be marked internal to fetch it")
    plain = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    for candidate in (ip, plain):
        if candidate is not None and any(candidate.version == n.version and candidate in n
                                         for n in internal_networks()):
            return
    raise FeedBlocked(f"{via} is {reason} outside the internal networks configured "
                      "(CERTMON_INTERNAL_NETWORKS)")


def check_url(url: str, *, allow_internal: bool) -> None:
    """Check scheme and (without DNS) a literal IP host of `url`; raise FeedBlocked when refused."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError as exc:
        raise FeedBlocked(f"not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise FeedBlocked(f"URL scheme {scheme or '(none)'!r} is not allowed; only http and https")
    if not host:
        raise FeedBlocked("URL has no host name")
    ip = parse_ip_literal(host)
    if ip is not None:
        check_address(ip, allow_internal=allow_internal, host=host)


def resolve_checked(host: str, port: int, *, allow_internal: bool) -> list[str]:
    """Resolve `host` and return its addresses, refusing if ANY of them is not allowed."""
    literal = parse_ip_literal(host)
    if literal is not None:
        check_address(literal, allow_internal=allow_internal, host=host)
        return [str(literal)]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise httpcore.ConnectError(f"cannot resolve host name {host!r}: {exc}") from exc
    addresses: list[str] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        check_address(ip, allow_internal=allow_internal, host=host)
        if str(ip) not in addresses:
            addresses.append(str(ip))
    if not addresses:
        raise httpcore.ConnectError(f"host name {host!r} has no addresses")
    return addresses


class GuardedBackend(httpcore.SyncBackend):
    """httpcore network backend that resolves, checks, and connects to the checked address itself."""

    def __init__(self, *, allow_internal: bool) -> None:
        self.allow_internal = allow_internal

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        """Connect to the first reachable checked address of `host` (TLS/SNI still use `host`)."""
        addresses = resolve_checked(host, port, allow_internal=self.allow_internal)
        last_error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last_error = exc
        assert last_error is not None
        raise last_error


class GuardedTransport(httpx.HTTPTransport):
    """httpx transport whose connections go through GuardedBackend; ignores proxy env variables."""

    def __init__(self, *, allow_internal: bool, verify: bool = True) -> None:
        super().__init__(verify=verify, trust_env=False)
        # httpx has no public hook for the network backend, so the pool is rebuilt with ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
            max_connections=4,
            max_keepalive_connections=2,
            network_backend=GuardedBackend(allow_internal=allow_internal),
        )
