"""The dashboard in a real browser (issue 7): `smo-abm dashboard` serves the page, headless Chromium (Debian's
`chromium`, driven by Playwright) opens it, moves a control, runs the model and checks that a chart changes;
then it runs a comparison. Screenshots go to results/browser/ (or $SMO_RESULTS/browser/).

Marked `browser`: `make test-browser` installs Chromium if it is missing and runs these (`.ci/run` does both).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# As root on a machine with no network but the package registries: no sandbox, and nothing in the background
# that would call home (each such call is refused, and some stall the start).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(os.environ.get("SMO_RESULTS", "results")) / "browser"
RUN_WEEKS = 78  # into 2024, when the offices are open and their news spreads in the network view
PLAY_S = 300  # for RUN_WEEKS of Play: 30 s seen here, over 60 s in a fresh clone (numba compiles its kernels first)
START_S = 180  # the server imports the model and runs the burn-in before it answers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test-browser` installs Debian's chromium")
    port = _free_port()
    log = tmp_path_factory.mktemp("dashboard") / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "abm.cli", "dashboard", "--port", str(port), "--host", "127.0.0.1"],
                                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + START_S
    while True:
        try:
            if urllib.request.urlopen(url, timeout=5).status == 200:
                break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL) if proc.poll() is None else None
            pytest.fail(f"the dashboard did not start: {log.read_text()[-2000:]}")
        time.sleep(1)
    yield url, log
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture()
def page(server):
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="chromium-")  # a new empty profile each time
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=FLAGS, headless=True,
                                                   viewport={"width": 1600, "height": 1700})
        pg = ctx.new_page()
        pg.set_default_timeout(60_000)
        pg.goto(server[0])
        pg.get_by_role("button", name="Step").wait_for()
        yield pg
        ctx.close()
    shutil.rmtree(profile, ignore_errors=True)


def _scroll_to(pg, option: str, max_scrolls: int = 20):
    """Vuetify 2's select draws its first 20 items and more as the menu scrolls (as a user scrolls it): scroll
    the open menu to its end until the option is drawn."""
    item = pg.get_by_role("option", name=option)
    menu = pg.locator(".menuable__content__active")
    menu.wait_for(timeout=10_000)
    for _ in range(max_scrolls):
        if item.count():
            break
        menu.evaluate("e => { e.scrollTop = e.scrollHeight; e.dispatchEvent(new Event('scroll')); }")
        pg.wait_for_timeout(200)
    return item


def _choose(pg, select: str, option: str, tries: int = 3):
    """Pick an option of a Vuetify select; a click that lands before the page has wired the menu is tried again."""
    for k in range(tries):
        pg.get_by_label(select, exact=True).click(force=True)
        try:
            _scroll_to(pg, option).click(timeout=10_000)
            return
        except Exception:  # playwright's TimeoutError: the menu did not open
            if k == tries - 1:
                raise
            pg.keyboard.press("Escape")


def _current_week(pg) -> int:
    text = pg.get_by_text(re.compile(r"Week \d+:")).first.inner_text()
    return int(re.search(r"Week (\d+):", text).group(1))


def _week(pg, n: int):
    pg.get_by_text(f"Week {n}:").wait_for()


def test_a_control_and_a_run_change_the_charts(page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    _week(page, 0)
    page.get_by_text("parole on", exact=True).wait_for()
    page.get_by_text("humanitarian parole", exact=True).click()  # a control, then Reset: Mesa makes the model again
    page.get_by_role("button", name="Reset").click()
    page.get_by_text("parole off", exact=True).wait_for()
    _week(page, 0)
    chart = page.locator("img").first
    chart.wait_for()
    before = chart.screenshot()
    for k in range(1, 4):  # Step, a week at a time
        page.get_by_role("button", name="Step").click()
        _week(page, k)
    page.get_by_text("Step: 3").wait_for()
    page.get_by_role("button", name="▶").click()  # Play, then pause after a year and a half
    deadline = time.monotonic() + PLAY_S
    while _current_week(page) < RUN_WEEKS:  # each week redraws five figures: its pace depends on the machine
        assert time.monotonic() < deadline, f"Play reached week {_current_week(page)} of {RUN_WEEKS} in {PLAY_S} s"
        time.sleep(1)
    page.get_by_role("button", name="❚❚").click()
    page.get_by_role("button", name="▶").wait_for()  # paused
    deadline = time.monotonic() + 30
    while chart.screenshot() == before:  # the chart redraws after the steps; wait for it, not a fixed time
        assert time.monotonic() < deadline, f"the crossings chart did not change after {RUN_WEEKS} weeks of run"
        time.sleep(0.5)
    page.screenshot(path=str(SHOTS / "dashboard.png"), full_page=True)
    assert (SHOTS / "dashboard.png").stat().st_size > 10_000


def test_the_tabs_are_named_for_what_they_hold(page):
    # Vuetify writes tab names in capitals (CSS): compared as a reader sees them, whatever the case
    assert [t.strip().upper() for t in page.get_by_role("tab").all_inner_texts()] == ["MODEL", "COMPARE", "EXPERIMENTS"]


#: a cell as the report writes it (experiments/outcomes.py): median [90% interval], signed, whole people with commas
CELL = re.compile(r"[+-][\d,]+ \[[+-][\d,]+, [+-][\d,]+\]")


def test_the_comparison_view_runs_two_settings(page):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.get_by_role("tab", name="Compare").click()
    page.get_by_role("button", name="Compare").wait_for()
    _choose(page, "B", "parole_counterfactuals")  # where the setting comes from, then which of its variants
    _choose(page, "B: variant", "no_parole")
    page.get_by_role("button", name="Compare").click()
    row = page.locator("tr", has_text="extra parole arrivals")
    row.wait_for(timeout=180_000)
    effect = row.locator("td").nth(2).inner_text()
    assert CELL.fullmatch(effect), f"not written as the report writes a cell: {effect!r}"
    assert effect.startswith("-"), f"without parole, parole arrivals should fall: {effect!r}"
    page.locator("img").nth(1).wait_for()  # both settings' charts
    page.screenshot(path=str(SHOTS / "compare.png"), full_page=True)


def test_the_page_fetched_nothing_from_a_cdn(server, page):
    """Everything the page loaded came from the server and the venv (solara-assets): solara logs each URL it
    could not fetch from the CDN, and this machine has no route to one."""
    page.get_by_text("Week 0:").wait_for()
    page.get_by_role("tab", name="Compare").click()
    page.get_by_role("button", name="Compare").wait_for()
    log = server[1].read_text()
    assert "Could not load URL" not in log, log[-2000:]


REPORT_EXPERIMENT = """
[experiment]
name = "report_in_a_browser"
replicates = 2
draws = 0
seed = 11
scale = 0.001
window = {{ start = "2023-06-12", end = "2024-06-30" }}
outputs = ["darien_crossings", "deaths", "smo_arrivals", "smo_registrations", "parole_arrivals", "wait_mean_days",
           "wait_p90_days", "gave_up_share"]   # as experiments/waiting_thresholds.toml
[baseline]
scenario = "{baseline}"
run = {{ end = "2024-06-30" }}
[[variant]]
name = "decide_in_3mo"
description = "The offices take 3 months (13 weeks) to decide an assessed case."
office_decision_months = 3
[[variant]]
name = "decide_in_6mo"
description = "The offices take 6 months (26 weeks) to decide an assessed case."
office_decision_months = 6
"""


def test_an_experiment_report_reads_in_a_browser(tmp_path):
    """A small experiment's report.html in Chromium: every figure drawn, no table with an empty header row, words
    left-aligned, no table wider than the page pushing it sideways; the screenshot is results/browser/report.png."""
    from playwright.sync_api import sync_playwright

    from experiments.experiment import run_experiment

    root = Path(__file__).resolve().parents[1]
    f = tmp_path / "report_in_a_browser.toml"
    f.write_text(REPORT_EXPERIMENT.format(baseline=(root / "experiments" / "baseline.toml").as_posix()))
    out = run_experiment(f, out=tmp_path / "out", scheduler="single", progress=False)["out"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        pg = browser.new_page(viewport={"width": 1440, "height": 900})  # a laptop's screen
        pg.goto((out / "report.html").as_uri())
        assert pg.evaluate("[...document.images].every(i => i.complete && i.naturalWidth > 0)")
        assert pg.evaluate("document.images.length") >= 6
        empty_rows = pg.evaluate("[...document.querySelectorAll('tr')].filter(r => !r.innerText.trim()).length")
        assert empty_rows == 0
        align = pg.evaluate("getComputedStyle(document.querySelector('table.words td:nth-child(2)')).textAlign")
        assert align in ("left", "start")
        assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        wider = pg.evaluate("[...document.querySelectorAll('.wide')].filter(d => d.scrollWidth > d.clientWidth).length")
        assert wider == 0, f"{wider} tables do not fit a {pg.viewport_size['width']}-pixel page"
        pg.screenshot(path=str(SHOTS / "report.png"), full_page=True)
        browser.close()
    assert (SHOTS / "report.png").stat().st_size > 50_000
