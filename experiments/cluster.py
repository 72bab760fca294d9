"""Where an experiment's runs go: a Dask LocalCluster on this machine (the default), or a running Dask
scheduler named on the command line (`--scheduler ADDRESS`).

An address is checked before any work is done: its form first (scheme, host, port), then whether a
Dask scheduler answers there within CONNECT_TIMEOUT_S. Without this, a wrong address surfaced only
when the first run was submitted, after distributed's 30 s of retries, as three chained tracebacks.
"""
from __future__ import annotations

import asyncio
import ipaddress
import logging
import re
import socket
from contextlib import contextmanager

from abm.errors import InputError

WHERE = ("command line", "--scheduler")
#: seconds to wait for a scheduler: long enough for one on another continent, short enough that a
#: typo is reported at once (a refused connection is reported without waiting)
CONNECT_TIMEOUT_S = 10
#: the schemes a Dask scheduler listens on over a network (tls reads its certificates from Dask's config)
SCHEMES = ("tcp", "tls")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def is_host_name(text: str) -> bool:
    """A host name (RFC 1123 labels, any case, an optional final dot) or an IPv4 address: what a scheduler or
    the dashboard (abm/dashboard.py) may be given as a host, besides an IPv6 address."""
    h = text.lower()
    return bool(h) and len(h) <= 253 and all(_LABEL.fullmatch(label) for label in h.rstrip(".").split("."))


def parse_scheduler(address: str) -> tuple[str, str, int]:
    """(scheme, host, port) of a scheduler address such as tcp://10.0.0.5:8786, 10.0.0.5:8786 or
    tcp://[::1]:8786; an InputError naming --scheduler for anything else."""
    text = address.strip()
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text  # Dask's default scheme
    if scheme not in SCHEMES:
        raise InputError(*WHERE, f"{address!r}: unknown scheme {scheme!r} (a Dask scheduler address is "
                                 f"{' or '.join(s + '://HOST:PORT' for s in SCHEMES)})")
    host, port = _host_port(address, rest)
    return scheme, host, port


def _host_port(address: str, rest: str) -> tuple[str, int]:
    if rest.startswith("["):  # [IPv6]:port
        host, sep, port = rest[1:].partition("]:")
        if not sep:
            raise InputError(*WHERE, f"{address!r}: expected [IPv6 address]:PORT")
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise InputError(*WHERE, f"{address!r}: {host!r} is not an IPv6 address") from None
    else:
        host, sep, port = rest.rpartition(":")
        if not sep:
            raise InputError(*WHERE, f"{address!r}: no port (expected HOST:PORT, e.g. tcp://10.0.0.5:8786)")
        if not is_host_name(host):
            raise InputError(*WHERE, f"{address!r}: {host!r} is not a host name or IP address")
    if not port.isdigit() or not (0 < int(port) < 65536):
        raise InputError(*WHERE, f"{address!r}: {port!r} is not a port number (1-65535)")
    return host, int(port)


def check_scheduler(address: str, timeout: float = CONNECT_TIMEOUT_S) -> str:
    """The address in the form Dask takes, once a Dask scheduler has answered there; an InputError
    (one line) if the address is malformed, nothing listens there, or what listens is not a scheduler."""
    scheme, host, port = parse_scheduler(address)
    url = f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except socket.gaierror as e:
        raise InputError(*WHERE, f"{address!r}: host {host!r} not found ({e.strerror})") from None
    except TimeoutError:
        raise InputError(*WHERE, f"{address!r}: no answer within {timeout:g} s") from None
    except OSError as e:
        raise InputError(*WHERE, f"{address!r}: cannot connect ({e.strerror or e})") from None
    try:
        reply = asyncio.run(asyncio.wait_for(_identity(url, timeout), timeout))
    except (OSError, TimeoutError) as e:  # distributed's CommClosedError is an OSError
        raise InputError(*WHERE, f"{address!r}: something listens there but no Dask scheduler answered "
                                 f"within {timeout:g} s ({type(e).__name__})") from None
    kind = reply.get("type") if isinstance(reply, dict) else None
    if kind != "Scheduler":
        raise InputError(*WHERE, f"{address!r}: answers as {kind or 'something else'}, not as a Dask scheduler")
    return url


async def _identity(url: str, timeout: float):
    """Ask the server at `url` what it is, as Dask's own clients do first (a distributed.Client has no
    bound on its handshake: against a port that accepts and never answers it waits for ever)."""
    from distributed.comm import connect

    with _quiet_dask():
        comm = await connect(url, timeout=timeout)
        try:
            await comm.write({"op": "identity"})
            return await comm.read()
        finally:
            await comm.close()


@contextmanager
def _quiet_dask():
    """distributed logs each failed attempt at length; the one-line error says what happened."""
    logs = [logging.getLogger(n) for n in ("distributed", "distributed.client", "distributed.comm")]
    levels = [lg.level for lg in logs]
    for lg in logs:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, lv in zip(logs, levels):
            lg.setLevel(lv)
