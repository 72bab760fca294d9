"""`--scheduler` and `--workers` are checked before any work: a malformed address, nothing listening,
or something that is not a Dask scheduler is one line on stderr, exit status 2, within the stated
timeout, and the output folder is not created (issue 15, "Clean errors at the edges")."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from abm.cli import main
from abm.errors import InputError
from experiments.cluster import CONNECT_TIMEOUT_S, check_scheduler, parse_scheduler
from tests.conftest import ROOT

EXPERIMENT = ROOT / "experiments" / "eligibility_expansion.toml"


def experiment(tmp_path, capsys, *extra):
    out = tmp_path / "out"
    t0 = time.perf_counter()
    rc = main(["experiment", str(EXPERIMENT), "--out", str(out), "--quiet", "--replicates", "1", *extra])
    cap = capsys.readouterr()
    return rc, cap.err.splitlines(), time.perf_counter() - t0, out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("address", [
    "not an address", "foo://127.0.0.1:8786", "tcp://127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536",
    "127.0.0.1:port", "tcp://[::1:8786", "tcp://[zz::1]:8786", "http://127.0.0.1:8786", "", "host name:8786",
])
def test_malformed_addresses_are_one_line(tmp_path, capsys, address):
    rc, err, wall, out = experiment(tmp_path, capsys, "--scheduler", address)
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith("error: command line: --scheduler: "), err[0]
    assert not out.exists()
    assert wall < 5  # parsed, never connected


def test_nothing_listening_is_reported_at_once(tmp_path, capsys):
    """Connection refused needs no timeout: the old behaviour waited distributed's 30 s of retries."""
    rc, err, wall, out = experiment(tmp_path, capsys, "--scheduler", f"127.0.0.1:{free_port()}")
    assert rc == 2 and len(err) == 1, err
    assert "cannot connect" in err[0] and "Traceback" not in err[0]
    assert not out.exists()
    assert wall < CONNECT_TIMEOUT_S


def test_a_silent_listener_times_out_in_the_stated_time():
    """A port that accepts connections but speaks no Dask: one error after the timeout, not a hang."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    port = srv.getsockname()[1]
    conns = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])  # accepted and never answered
            except OSError:
                pass

    th = threading.Thread(target=accept, daemon=True)
    th.start()
    try:
        t0 = time.perf_counter()
        with pytest.raises(InputError, match="no Dask scheduler answered within 1 s"):
            check_scheduler(f"tcp://127.0.0.1:{port}", timeout=1)
        assert time.perf_counter() - t0 < 8  # the timeout, plus the client's own teardown
    finally:
        stop.set()
        th.join()
        for c in conns:
            c.close()
        srv.close()


def test_a_running_scheduler_is_accepted():
    from distributed import LocalCluster

    with LocalCluster(n_workers=1, processes=False, protocol="tcp", dashboard_address=None) as cluster:
        addr = cluster.scheduler_address
        assert check_scheduler(addr) == addr
        assert check_scheduler(addr.removeprefix("tcp://")) == addr  # tcp is Dask's default scheme
        worker = next(iter(cluster.workers.values())).address
        with pytest.raises(InputError, match="answers as Worker, not as a Dask scheduler"):
            check_scheduler(worker)


@pytest.mark.parametrize("address, parsed", [
    ("tcp://10.0.0.5:8786", ("tcp", "10.0.0.5", 8786)),
    ("10.0.0.5:8786", ("tcp", "10.0.0.5", 8786)),
    ("tls://scheduler.example.org:8786", ("tls", "scheduler.example.org", 8786)),
    ("tcp://[::1]:8786", ("tcp", "::1", 8786)),
])
def test_well_formed_addresses_parse(address, parsed):
    assert parse_scheduler(address) == parsed


@pytest.mark.parametrize("extra, words", [
    (["--workers", "0"], "between 1 and"),
    (["--workers", "100000"], "between 1 and"),
    (["--workers", "2", "--single-process"], "not with --scheduler or --single-process"),
])
def test_workers_are_checked(tmp_path, capsys, extra, words):
    rc, err, _, out = experiment(tmp_path, capsys, *extra)
    assert rc == 2 and len(err) == 1 and words in err[0], err
    assert err[0].startswith("error: command line: --workers: ")
    assert not out.exists()
