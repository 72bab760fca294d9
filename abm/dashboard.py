"""The dashboard's server: solara's own starlette app (the page abm/app.py, as `solara run --production` serves it)
under uvicorn, behind two checks that `solara run` does not make, and a launcher that never leaves it running.

- Host: a request is served only if its `Host` header names the address the server listens on (localhost,
  127.0.0.1, [::1] or the `--host` given, with any port): a page on another site whose name was re-pointed at
  127.0.0.1 (DNS rebinding) sends its own name, and gets 400 (starlette's TrustedHostMiddleware).
- Origin: a websocket upgrade (the page's only channel to the model) must carry an `Origin` naming this server
  (http, one of those names, this port); so must a state-changing HTTP request (POST ...) that carries one.
  A page on another site that opens a websocket to localhost (cross-site websocket hijacking) gets 403.
  Neither refused request reaches solara.
- `smo-abm dashboard` runs the server as a child in its own process group and stops the whole group on SIGTERM,
  SIGINT or SIGHUP (and the child stops itself if its parent dies without a word: Linux's parent-death signal).

`python -m abm.dashboard --host H --port N` is the child.
"""
from __future__ import annotations

import argparse
import errno
import ipaddress
import os
import signal
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse

from abm.errors import InputError
from experiments.cluster import is_host_name

APP = Path(__file__).with_name("app.py")
LOCAL_NAMES = ("localhost", "127.0.0.1", "::1")
GRACE_S = 10.0  # from SIGTERM to SIGKILL of the server's group: uvicorn gets 5 s to close the page's websockets
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def plain_host(host: str) -> str:
    """The host as a bare lower-case name or address: `[::1]` -> `::1`."""
    return host.strip().lower().removeprefix("[").removesuffix("]")


def check_host(host: str) -> str:
    """`--host` as a bare name or IP address; anything else (empty, `*`, a URL) is an InputError."""
    h = plain_host(host)
    try:
        ipaddress.ip_address(h)
        return h
    except ValueError:
        pass
    if is_host_name(h):
        return h
    raise InputError("command line", "--host", f"not a host name or IP address: {host!r}")


def check_address(host: str, port: int) -> str:
    """Before anything starts: a valid host and port, and the port free on every address the host names.
    The host as uvicorn takes it (bare)."""
    if not (0 < port < 65536):
        raise InputError("command line", "--port", f"not a port number: {port}")
    h = check_host(host)
    try:
        infos = socket.getaddrinfo(h, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as e:
        raise InputError("command line", "--host", f"{host!r} does not resolve: {e.strerror}") from None
    failures = []
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a closing socket is no obstacle
            try:
                s.bind(address)
            except OSError as e:
                failures.append(e)
    in_use = [e for e in failures if e.errno == errno.EADDRINUSE] or (failures if len(failures) == len(infos) else [])
    if in_use:
        raise InputError("command line", "--port", f"cannot listen on {host} port {port}: {in_use[0].strerror}")
    return h


def url(host: str, port: int) -> str:
    h = plain_host(host)
    return f"http://[{h}]:{port}" if ":" in h else f"http://{h}:{port}"


def allowed_names(host: str) -> list[str]:
    """The bare names a request may use for this server: the local ones and `--host`."""
    return sorted({*LOCAL_NAMES, plain_host(host)})


class OriginCheck:
    """ASGI middleware: a websocket upgrade must carry an Origin naming this server, and a state-changing HTTP
    request (POST ...) that carries an Origin must name it too; anything else gets 403 and is not passed on.
    (A browser sends Origin on every websocket and on every cross-site POST; a request without one is not a
    browser's on another site's behalf.)"""

    def __init__(self, app, names, port: int):
        self.app, self.names, self.port = app, {plain_host(n) for n in names}, port

    def allowed(self, origin: str) -> bool:
        try:
            o = urlsplit(origin)
            port = o.port or 80
        except ValueError:  # a port out of range or not a number
            return False
        return (o.scheme == "http" and o.hostname in self.names and port == self.port and o.username is None
                and o.path in ("", "/"))

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            origin = Headers(scope=scope).get("origin")
            checked = scope["type"] == "websocket" or scope["method"] not in SAFE_METHODS
            required = scope["type"] == "websocket"
            if checked and (origin is None and required or origin is not None and not self.allowed(origin)):
                await PlainTextResponse("Origin not allowed", status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def guarded(app, host: str, port: int):
    """`app` behind the Host check (outside) and the Origin check."""
    from starlette.middleware.trustedhost import TrustedHostMiddleware

    names = allowed_names(host)
    hosts = [f"[{n}]" if ":" in n else n for n in names]  # the Host header brackets an IPv6 address
    return TrustedHostMiddleware(OriginCheck(app, names, port), allowed_hosts=hosts, www_redirect=False)


def serve(host: str, port: int) -> None:
    """Serve abm/app.py as `solara run abm/app.py --production` does (solara-assets from the venv, telemetry off,
    no check for a newer solara on PyPI), behind `guarded`."""
    # solara reads these when it is imported: set them first
    os.environ["SOLARA_APP"] = str(APP)
    os.environ["SOLARA_MODE"] = "production"
    os.environ.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "false")  # solara reports usage unless told not to
    os.environ["SERVER_NAME"], os.environ["SERVER_PORT"] = host, str(port)  # as `solara run` sets them (CGI names)
    import uvicorn
    from solara.__main__ import LOGGING_CONFIG
    from solara.server import settings
    from solara.server.starlette import app

    settings.main.mode = "production"
    config = uvicorn.Config(guarded(app, host, port), host=host, port=port, log_config=LOGGING_CONFIG,
                            proxy_headers=False,  # nothing stands in front of it: no X-Forwarded-* is believed
                            timeout_graceful_shutdown=5)  # open pages are closed, not waited for
    uvicorn.Server(config).run()


def _die_with_parent(parent: int) -> None:
    """Linux: SIGTERM this process when the `smo-abm dashboard` that started it dies, even by SIGKILL."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the line above
        sys.exit(0)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _exited(pid: int) -> bool:
    """Whether the child has exited, without reaping it: until it is reaped its pid (the group's id) cannot be
    given to another process, so signalling the group stays safe."""
    return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def launch(host: str, port: int) -> int:
    """`serve` in a child process, supervised: see `supervise`."""
    return supervise([sys.executable, "-m", "abm.dashboard", "--host", host, "--port", str(port),
                      "--parent", str(os.getpid())])


def supervise(command: list[str], grace: float = GRACE_S) -> int:
    """Run `command` in a new session (its own process group, out of reach of the terminal's Ctrl-C) and wait; on
    SIGTERM, SIGINT or SIGHUP stop its whole group: SIGTERM, then SIGKILL after `grace` seconds or at a second
    signal. 0 after a requested stop, else the command's exit status."""
    import subprocess

    stops: list[float] = []
    child = None

    def on_signal(signum, frame):
        stops.append(time.monotonic())
        if child is not None:
            _signal_group(child.pid, signal.SIGTERM if len(stops) == 1 else signal.SIGKILL)

    handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {s: signal.signal(s, on_signal) for s in handled}  # before the child exists: no window without them
    try:
        child = subprocess.Popen(command, start_new_session=True)
        if stops:  # a signal came while it was starting
            _signal_group(child.pid, signal.SIGTERM)
        killed = False
        while not _exited(child.pid):
            if stops and not killed and time.monotonic() - stops[0] > grace:
                _signal_group(child.pid, signal.SIGKILL)
                killed = True
            time.sleep(0.1 if stops else 0.5)
    finally:
        if child is not None:
            _signal_group(child.pid, signal.SIGKILL)  # whatever else is left in its group
            rc = child.wait()
        for s, h in previous.items():
            signal.signal(s, h)
    if stops:
        print("dashboard: stopped", file=sys.stderr)
        return 0
    return rc if rc >= 0 else 128 - rc


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(prog="python -m abm.dashboard", description="the dashboard's server (smo-abm dashboard runs it)")
    ap.add_argument("--host", default="localhost")
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--parent", type=int, help="the pid of the smo-abm dashboard that started it")
    args = ap.parse_args(argv)
    if args.parent:
        _die_with_parent(args.parent)
    try:
        serve(args.host, args.port)
    except KeyboardInterrupt:  # uvicorn re-raises the SIGINT it stopped on
        sys.exit(130)


if __name__ == "__main__":
    main()
