"""A dashboard that trusts no one (issue 15, item 4): the real server refuses a forged Host and a websocket from a
forged Origin, values from the browser are checked on the server (experiment folders from the server's own list,
numbers clamped to the controls' ranges), and `smo-abm dashboard` leaves nothing running when stopped."""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid

import pandas as pd
import psutil
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

import abm.app as app
import abm.cli as cli
from abm.dashboard import OriginCheck, check_host

START_S = 180  # the server imports the model and runs its burn-in before it answers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, host: str, method: str = "GET", path: str = "/", origin: str | None = None):
    """(status, body) of a request to 127.0.0.1:port carrying the given Host (and Origin) header."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=True)
        conn.putheader("Host", host)
        if origin:
            conn.putheader("Origin", origin)
        conn.putheader("Content-Length", "0")
        conn.endheaders()
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    finally:
        conn.close()


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`smo-abm dashboard --port N --host 127.0.0.1`, a real process, until the module ends (or a test stops it)."""
    port = _free_port()
    log = tmp_path_factory.mktemp("dashboard") / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "abm.cli", "dashboard", "--port", str(port), "--host", "127.0.0.1"],
                                stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_S
    while True:
        try:
            if _get(port, f"127.0.0.1:{port}")[0] == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill() if proc.poll() is None else None
            pytest.fail(f"the dashboard did not start: {log.read_text()[-2000:]}")
        time.sleep(0.5)
    yield port, proc, log
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


# --- Host and Origin, on the real server ---

def test_a_forged_host_gets_400_and_no_page(server):
    port = server[0]
    for host in ("evil.example", f"evil.example:{port}", "localhost.evil.example", "127.0.0.1.nip.io"):
        status, body = _get(port, host)
        assert status == 400, host
        assert "<html" not in body.lower() and "solara" not in body.lower()


def test_the_bound_names_get_the_page(server):
    port = server[0]
    for host in ("127.0.0.1", f"127.0.0.1:{port}", "localhost", f"localhost:{port}", f"[::1]:{port}"):
        status, body = _get(port, host)
        assert status == 200, host
        assert "<html" in body.lower()


def _ws(port: int, origin: str | None):
    """Open and close the page's websocket (a fresh kernel id each time); the status it was refused with, or 101."""
    url = f"ws://127.0.0.1:{port}/jupyter/api/kernels/{uuid.uuid4()}/channels?session_id={uuid.uuid4()}"
    try:
        with connect(url, origin=origin, open_timeout=30):
            return 101
    except InvalidStatus as e:
        return e.response.status_code


def test_a_websocket_from_another_origin_is_refused(server):
    port = server[0]
    for origin in ("http://evil.example", f"http://evil.example:{port}", "http://localhost:1", f"https://localhost:{port}",
                   "null", None):
        assert _ws(port, origin) == 403, origin


def test_a_websocket_from_the_page_is_accepted(server):
    port = server[0]
    assert _ws(port, f"http://127.0.0.1:{port}") == 101
    assert _ws(port, f"http://localhost:{port}") == 101


def test_a_post_from_another_origin_is_refused(server):
    port = server[0]
    path = "/_solara/api/close/nokernel?session_id=x"  # solara's one state-changing route a page calls
    assert _get(port, f"127.0.0.1:{port}", "POST", path, origin="http://evil.example")[0] == 403
    assert _get(port, f"127.0.0.1:{port}", "POST", path, origin=f"http://127.0.0.1:{port}")[0] == 200


def test_sigterm_to_the_dashboard_leaves_nothing_running(server):
    """Last in the module: it stops the server. `kill PID` of `smo-abm dashboard` stops its server child too."""
    port, proc, log = server
    children = psutil.Process(proc.pid).children(recursive=True)
    assert children and all(os.getpgid(c.pid) != os.getpgid(proc.pid) for c in children)  # a group of its own
    page = connect(f"ws://127.0.0.1:{port}/jupyter/api/kernels/{uuid.uuid4()}/channels?session_id={uuid.uuid4()}",
                   origin=f"http://127.0.0.1:{port}", open_timeout=30)  # a page still open: closed, not waited for
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    assert time.monotonic() - t0 < 15
    page.close()
    for c in children:
        assert not c.is_running() or c.status() == psutil.STATUS_ZOMBIE, c
    assert not _listening(port)
    text = log.read_text()
    assert "Traceback" not in text and "dashboard: stopped" in text, text[-2000:]


# --- the middleware and the launcher's checks, without a server ---

def test_origin_check_names_this_server_only():
    check = OriginCheck(None, ["127.0.0.1", "localhost", "::1"], 8765)
    assert check.allowed("http://localhost:8765") and check.allowed("http://[::1]:8765") and check.allowed("http://127.0.0.1:8765")
    for bad in ("http://localhost", "http://localhost:8766", "https://localhost:8765", "http://evil.example:8765",
                "http://user@localhost:8765", "http://localhost:99999", "null", ""):
        assert not check.allowed(bad), bad


@pytest.mark.parametrize("argv, field", [(["--host", "*"], "--host"), (["--host", "http://evil.example"], "--host"),
                                         (["--host", ""], "--host"), (["--port", "0"], "--port"),
                                         (["--port", "70000"], "--port"), (["--host", "no-such-host.invalid"], "--host")])
def test_bad_addresses_are_one_line_errors(capsys, argv, field):
    assert cli.main(["dashboard", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: command line: {field}: ") and err.count("\n") == 1


def test_a_port_in_use_is_a_one_line_error(capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert cli.main(["dashboard", "--host", "127.0.0.1", "--port", str(s.getsockname()[1])]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: command line: --port: cannot listen on 127.0.0.1") and err.count("\n") == 1


def test_check_host_takes_names_and_addresses():
    assert [check_host(h) for h in ("localhost", "127.0.0.1", "[::1]", "My-Box.local")] == [
        "localhost", "127.0.0.1", "::1", "my-box.local"]


# --- the supervisor: its child's whole process group stops, whatever stops it ---

CHILD = textwrap.dedent("""
    import os, signal, subprocess, sys, time
    if sys.argv[1] == "stubborn":
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    grandchild = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"])
    with open(sys.argv[2] + ".tmp", "w") as f:
        f.write(f"{os.getpid()} {grandchild.pid}")
    os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    time.sleep(600)
""")


def _supervised(tmp_path, mode: str, grace: float = 10.0):
    """A process running abm.dashboard.supervise on a child that starts a grandchild (which ignores SIGTERM);
    (the supervisor, the child's and grandchild's pids)."""
    pids = tmp_path / f"pids-{mode}"
    code = (f"import sys; from abm.dashboard import supervise; "
            f"sys.exit(supervise([sys.executable, '-c', {CHILD!r}, {mode!r}, {str(pids)!r}], grace={grace}))")
    sup = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not pids.exists():
        assert time.monotonic() < deadline and sup.poll() is None, sup.stderr.read() if sup.poll() is not None else ""
        time.sleep(0.05)
    return sup, [int(x) for x in pids.read_text().split()]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_a_signal_stops_the_whole_group(tmp_path, sig):
    sup, (child, grandchild) = _supervised(tmp_path, "polite")
    assert os.getpgid(child) == os.getpgid(grandchild) == child != os.getpgid(sup.pid)  # a group of its own
    sup.send_signal(sig)
    assert sup.wait(15) == 0
    assert "stopped" in sup.stderr.read()
    assert _gone(child) and _gone(grandchild)


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_time_or_a_second_signal(tmp_path):
    sup, pids = _supervised(tmp_path, "stubborn", grace=1.0)
    t0 = time.monotonic()
    sup.send_signal(signal.SIGTERM)
    assert sup.wait(15) == 0 and 0.9 < time.monotonic() - t0 < 10
    assert all(_gone(p) for p in pids)
    (tmp_path / "again").mkdir()
    sup, pids = _supervised(tmp_path / "again", "stubborn", grace=60.0)
    sup.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    sup.send_signal(signal.SIGINT)  # a second Ctrl-C: now
    assert sup.wait(15) == 0
    assert all(_gone(p) for p in pids)


def test_the_server_child_stops_if_its_parent_is_killed(tmp_path):
    """The parent-death signal: after SIGKILL of `smo-abm dashboard`, nothing can forward a signal, so the child
    asks the kernel for SIGTERM when its parent dies (abm.dashboard._die_with_parent)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("Linux's parent-death signal")
    pid_file = tmp_path / "child"
    child_code = (f"import os, sys, time; from abm.dashboard import _die_with_parent; _die_with_parent(os.getppid()); "
                  f"open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(600)")
    parent_code = (f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child_code!r}], "
                   f"start_new_session=True); time.sleep(600)")
    parent = subprocess.Popen([sys.executable, "-c", parent_code])
    deadline = time.monotonic() + 30
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child = int(pid_file.read_text())
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 10
    while not _gone(child):
        assert time.monotonic() < deadline, "the child outlived its parent"
        time.sleep(0.05)


# --- values from the browser, checked where they are used ---

def _experiment(folder, name="tiny"):
    """A folder that looks like a finished experiment: effects.csv and a manifest naming an experiment."""
    folder.mkdir(parents=True)
    (folder / "effects.csv").write_text("variant,effect,unit,effect_median,effect_lo,effect_hi,pairs\nv,e,people,1,0,2,2\n")
    (folder / "manifest.json").write_text(json.dumps({"experiment": f"experiments/{name}.toml", "name": name}))
    return folder


def test_experiment_folders_come_from_the_servers_list_and_stay_inside(tmp_path, monkeypatch):
    root = tmp_path / "results" / "experiments"
    _experiment(root / "tiny")
    outside = _experiment(tmp_path / "outside")
    (root / "escape").symlink_to(outside, target_is_directory=True)  # a symlink out of the results folder
    _experiment(root / "sneaky")
    (root / "sneaky" / "effects.csv").unlink()
    (root / "sneaky" / "effects.csv").symlink_to(outside / "effects.csv")  # a file that leads out
    (root / "half").mkdir()
    (root / "half" / "effects.csv").write_text("x\n")  # no manifest: not finished
    (root / "other").mkdir()
    (root / "other" / "effects.csv").write_text("x\n")
    (root / "other" / "manifest.json").write_text(json.dumps({"kind": "run", "experiment": "x"}))  # another kind's
    assert app.finished_experiments(root) == ["tiny"]
    assert app.experiment_folder(root, "tiny") == (root / "tiny").resolve()
    read = []
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: read.append(a) or pytest.fail("read"))
    for name in ("../../outside", "../outside", str(outside), "escape", "sneaky", "half", "other", "", ".", "..",
                 "tiny/", "tiny/../tiny", None, 1):
        with pytest.raises(ValueError):
            app.experiment_folder(root, name)
    assert read == []


def test_an_experiment_whose_files_fail_their_checksums_is_not_offered(tmp_path):
    """A manifest written by abm/folders.py vouches for each file by its sha256: an emptied or half-moved
    effects.csv is not a finished experiment (as a run folder is judged)."""
    from abm.folders import sha256

    root = tmp_path / "results" / "experiments"
    for name in ("whole", "emptied"):
        folder = _experiment(root / name, name)
        man = {"tool": "smo-abm", "kind": "experiment", "name": name,
               "checksums": {"effects.csv": sha256(folder / "effects.csv")}}
        (folder / "manifest.json").write_text(json.dumps(man))
    (root / "emptied" / "effects.csv").write_text("")
    assert app.finished_experiments(root) == ["whole"]


def test_the_experiment_view_refuses_a_folder_the_browser_made_up(tmp_path, monkeypatch):
    """The browser sets the select to `../../outside` (any websocket client can): the view shows an error and
    reads nothing."""
    import ipyvuetify as v
    import solara

    root = tmp_path / "results" / "experiments"
    _experiment(root / "tiny")
    _experiment(tmp_path / "outside")
    box, rc = solara.render(app.ExperimentView(root), handle_error=False)
    tables = lambda: [w for w in rc.find(solara.widgets.HTML).widgets if "<table" in (w.unsafe_innerHTML or "")]
    assert len(tables()) == 1
    read = []
    monkeypatch.setattr(pd, "read_csv", lambda *a, **k: read.append(a))
    rc.find(v.Select).widget.v_model = "../../outside"
    assert not tables()
    assert read == []
    assert "not one of the options" in str([w.get_state() for w in rc.find(v.Alert).widgets])
    rc.close()


def test_out_of_range_levers_are_clamped_in_scenario():
    base = app.scenario()
    big = app.scenario(capacity_factor=1e9, tolerated_wait_days=100000, news_per_week=7, outreach=3000, scale=5,
                       decision_weeks=1e6)
    small = app.scenario(capacity_factor=-4, tolerated_wait_days=-100, news_per_week=-1, outreach=-1, scale=-1,
                         decision_weeks=-3)
    for name, cfg in base.pack.offices.items():
        assert big.pack.offices[name]["assess_per_week"] == pytest.approx(4.0 * cfg["assess_per_week"])
        assert small.pack.offices[name]["assess_per_week"] == pytest.approx(0.5 * cfg["assess_per_week"])
    assert big.behaviour["tolerated_wait_weeks"] == pytest.approx(180 / 7)
    assert small.behaviour["tolerated_wait_weeks"] == pytest.approx(30 / 7)
    assert (big.scale, small.scale) == (0.01, 0.001)
    assert big.pack.resettlement["news_per_week"] == 0.5 and small.pack.resettlement["news_per_week"] == 0.0
    assert (big.pack.resettlement["decision_weeks"], small.pack.resettlement["decision_weeks"]) == (52, 0)
    assert [p.fields["weeks"] for p in big.policies if p.kind == "outreach"] == [104]
    assert [p.fields["weeks"] for p in small.policies if p.kind == "outreach"] == [1]


@pytest.mark.parametrize("bad", [dict(closure="2099-01-01"), dict(closure="../x"), dict(parole="false"),
                                 dict(walk_in=1.5), dict(capacity_factor="lots"), dict(capacity_factor=float("nan")),
                                 dict(capacity_factor=None),
                                 dict(seed="1; rm"), dict(seed=-1), dict(seed=2**40)])
def test_invalid_levers_are_refused(bad):
    with pytest.raises(ValueError):
        app.scenario(**bad)


def test_the_model_shows_the_levers_it_applied():
    m = app.DashboardModel(capacity_factor=1e9, seed="7")
    assert m.levers["capacity_factor"] == 4.0 and m.scale == 0.002
    assert "processing capacity x4" in app.describe_levers(m.levers)


def test_the_comparison_clamps_its_seeds_and_checks_its_settings(monkeypatch):
    calls = []
    monkeypatch.setattr(app, "compare", lambda a, b, seeds, scale, progress=None: calls.append((list(seeds), scale)))
    app.run_comparison("A", "B", 100000, 0.002)
    app.run_comparison("A", "B", -5, 1e9)
    assert calls == [(list(range(1, 21)), 0.002), ([1, 2], 0.01)]
    options = app.compare_settings({"capacity_factor": 1e9})
    assert app.chosen_setting(options, "baseline") is options["baseline"]
    for bad in ("no such setting", "../baseline", None):
        with pytest.raises(ValueError):
            app.chosen_setting(options, bad)
    own = options[app.CONTROLS].make(1, 0.002)
    base = options["baseline"].make(1, 0.002)
    name = next(iter(base.pack.offices))
    assert own.pack.offices[name]["assess_per_week"] == pytest.approx(4.0 * base.pack.offices[name]["assess_per_week"])
    with pytest.raises(ValueError):
        app.compare_settings({"closure": "tomorrow"})


def test_the_widgets_and_the_checks_share_one_table():
    for name, p in app.MODEL_PARAMS.items():
        if p["type"].startswith("Slider"):
            assert (p["min"], p["max"]) == app.RANGES[name]
            assert app.clamp(name, p["value"]) == p["value"]  # the starting values are in range
        if p["type"] == "Select":
            assert app.one_of(name, p["value"], p["values"]) == p["value"]


def test_mesas_own_sliders_are_clamped_too():
    """SolaraViz draws the Play and Render interval sliders itself; their values pass through app.Bounded."""
    import ipyvuetify as v
    import solara

    box, rc = solara.render(solara.AppLayout(children=[app.page]), handle_error=False)
    render = rc.find(v.Slider, label="Render Interval (steps)").widget
    play = rc.find(v.Slider, label="Play Interval (ms)").widget
    try:
        render.v_model = 10**9
        play.v_model = -5
        assert (render.v_model, play.v_model) == (100, 1)
        week = app.model.value.week
        rc.find(v.Btn, children=["Step"]).widget.click()  # 100 weeks, not a billion
        assert app.model.value.week == week + 100
    finally:  # the page's state is the module's: leave it as other tests expect it
        render.v_model, play.v_model = 1, 100
        app.model.value = app.DashboardModel()
        rc.close()
