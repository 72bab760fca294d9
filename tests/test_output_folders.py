"""Output folders (issue 15): a command writes only into a new or empty folder or one holding the project's
own output of the same kind; a finished run is recognised by its checksums; only the project's files are
replaced; one writer at a time; temporaries of killed writers are cleaned; write errors are one line and
leave nothing half-written. Every refusal: exit 2, one line on stderr, no traceback, and everything that
existed before byte-identical (names, contents, modes)."""
from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from abm import folders
from abm.cli import main
from abm.errors import InputError
from tests.conftest import ROOT
from tests.conftest import TESTLAND as _TESTLAND

TESTLAND = str(_TESTLAND)

FAST = ["--scale", "0.001", "--no-figures", "--quiet"]
BASELINE = (ROOT / "experiments" / "baseline.toml").as_posix()


def snapshot(root: Path) -> dict:
    """Every entry under `root`: its mode and, for a file, its bytes."""
    out = {}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(root))] = (stat.filemode(st.st_mode), p.read_bytes() if p.is_file() else None)
    return out


def cli(capsys, *argv) -> tuple[int, list[str], str]:
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.err.splitlines(), cap.out


def assert_refused(capsys, root: Path, argv: list, *words) -> str:
    """`argv` stops with exit 2 and one error line holding `words`; nothing under `root` changed."""
    before = snapshot(root)
    rc, err, _ = cli(capsys, *argv)
    text = "\n".join(err)
    assert rc == 2, text
    assert "Traceback" not in text
    assert len(err) == 1 and err[0].startswith("error: "), text
    for w in words:
        assert w in err[0], f"{w!r} not in {err[0]!r}"
    assert snapshot(root) == before
    return err[0]


def run(capsys, out: Path, *extra, scenario=TESTLAND) -> tuple[int, list[str], str]:
    return cli(capsys, "run", scenario, "--out", out, *FAST, *extra)


@pytest.fixture()
def finished(tmp_path, capsys) -> Path:
    """A finished testland run (seed 1) in tmp_path/out."""
    out = tmp_path / "out"
    rc, err, _ = run(capsys, out, "--seed", "1")
    assert rc == 0, err
    return out


def tiny_experiment(folder: Path, name: str = "tiny") -> Path:
    """One variant, one replicate, on the baseline at a tiny scale: a few seconds."""
    f = folder / f"{name.replace('/', '_') or 'empty'}.toml"
    f.write_text(f"""
[experiment]
name = "{name}"
replicates = 1
draws = 0
seed = 7
scale = 0.0005

[baseline]
scenario = "{BASELINE}"

[[variant]]
name = "capacity_x3"
multiply = {{ "pack.offices.*.assess_per_week" = 3.0 }}
""")
    return f


# --- which folders a command may write into ---

def test_a_folder_with_other_files_is_refused_and_untouched(tmp_path, capsys):
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "sub" / "notes.md").write_text("notes\n")
    (out / "thesis.txt").write_text("draft\n")
    os.chmod(out, 0o750)
    line = assert_refused(capsys, tmp_path, ["run", TESTLAND, "--out", out, *FAST],
                          str(out), "did not write", "sub/", "thesis.txt")
    assert "Traceback" not in line and (out / "thesis.txt").read_text() == "draft\n"


def test_a_long_list_of_other_files_is_shortened(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    for i in range(8):
        (out / f"f{i}.txt").write_text(str(i))
    assert_refused(capsys, tmp_path, ["run", TESTLAND, "--out", out, *FAST], "f0.txt", "and 3 more")


@pytest.mark.parametrize("argv", [
    ["experiment", "{exp}"],
    ["validate", TESTLAND, "--seeds", "1"],
    ["sensitivity", "--single-process", "--method", "morris", "--trajectories", "2", "--scale", "0.001"],
    ["calibrate", "--check", "--draws", "1", "--quiet"],
    ["bench", "--quick"],
], ids=["experiment", "validate", "sensitivity", "calibrate", "bench"])
def test_every_command_refuses_a_folder_with_other_files(tmp_path, capsys, argv):
    out = tmp_path / "out"
    out.mkdir()
    (out / "thesis.txt").write_text("draft\n")
    argv = [str(tiny_experiment(tmp_path)) if a == "{exp}" else a for a in argv]
    t0 = time.perf_counter()
    assert_refused(capsys, tmp_path, [*argv, "--out", out], "thesis.txt", "did not write")
    assert time.perf_counter() - t0 < 20, "refused before any work"


@pytest.mark.parametrize("argv", [
    ["run", TESTLAND, *FAST],
    ["experiment", "{exp}"],
    ["validate", TESTLAND],
    ["sensitivity"],
    ["calibrate", "--check"],
    ["bench", "--quick"],
], ids=["run", "experiment", "validate", "sensitivity", "calibrate", "bench"])
def test_an_empty_out_is_an_error_not_the_default(tmp_path, capsys, monkeypatch, argv):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("x")
    argv = [str(tiny_experiment(tmp_path)) if a == "{exp}" else a for a in argv]
    assert_refused(capsys, tmp_path, [*argv, "--out", ""], "command line: --out: ", "empty")
    assert not (tmp_path / "results").exists()


def test_kinds_are_not_mixed(tmp_path, capsys):
    out = tmp_path / "exp"
    out.mkdir()
    (out / folders.MARKER).write_text(json.dumps({"tool": "smo-abm", "kind": "experiment"}))
    (out / "runs").mkdir()
    assert_refused(capsys, tmp_path, ["run", TESTLAND, "--out", out, *FAST], "an experiment of this project",
                   "not a run")


def test_a_run_folder_is_not_a_validation_folder(finished, tmp_path, capsys):
    assert_refused(capsys, tmp_path, ["validate", TESTLAND, "--seeds", "1", "--out", finished], "a run of this project")


def test_folders_of_earlier_versions_are_recognised(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "manifest.json").write_text(json.dumps({"scenario": "x.toml", "inputs_hash": "abc"}))
    (run / "notes.txt").write_text("mine")  # a user's file beside an earlier version's run
    folders.check_folder(run, "run", "--out")
    cal = tmp_path / "cal"
    (cal / "predictive").mkdir(parents=True)
    (cal / "abc.db").write_bytes(b"SQLite format 3\0")
    folders.check_folder(cal, "calibration", "--out")
    with pytest.raises(InputError, match="a run of this project"):
        folders.check_folder(run, "experiment", "--out")
    exp = tmp_path / "exp"
    (exp / "runs" / "baseline").mkdir(parents=True)
    (exp / "runs.csv").write_text("variant\n")
    folders.check_folder(exp, "experiment", "--out")
    with pytest.raises(InputError, match="an experiment of this project"):
        folders.check_folder(exp, "run", "--out")
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "report.md").write_text("a user's report")  # a name bench writes, but no bench.json: not the project's
    with pytest.raises(InputError, match="did not write: report.md"):
        folders.check_folder(lone, "bench", "--out")


# --- names from scenario and experiment files are plain names ---

@pytest.mark.parametrize("name", ["../../elsewhere", "a/b", "..", ".", ".hidden", "", "a\\\\b"])
def test_a_run_name_that_is_not_a_plain_name_is_refused(tmp_path, capsys, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "keep.txt").write_text("x")
    f = tmp_path / "s.toml"
    f.write_text(f"extends = '{TESTLAND}'\n[run]\nname = \"{name}\"\n")
    assert_refused(capsys, tmp_path, ["run", f, *FAST], f"{f}: run.name: ")


def test_an_experiment_named_dotdot_does_not_write_into_results(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results" / "experiments").mkdir(parents=True)
    (tmp_path / "results" / "draft.txt").write_text("x")
    f = tiny_experiment(tmp_path, "..")
    assert_refused(capsys, tmp_path, ["experiment", f, "--single-process", "--quiet"], "experiment.name")


def test_plain_name():
    assert folders.plain_name("f", "run.name", "baseline_2023-v1.2") == "baseline_2023-v1.2"
    for bad in ("", " ", ".", "..", "../x", "x/..", ".x", "a\0b", 3, None):
        with pytest.raises(InputError):
            folders.plain_name("f", "run.name", bad)


# --- finished runs ---

def test_a_finished_run_is_kept_and_other_inputs_need_force(finished, tmp_path, capsys):
    man = json.loads((finished / "manifest.json").read_text())
    assert man["tool"] == "smo-abm" and man["kind"] == "run"
    assert set(man["checksums"]) == {"timeseries.csv", "summary.json", "summary.md"}
    before = snapshot(tmp_path)
    rc, err, out = run(capsys, finished, "--seed", "1")
    assert rc == 0 and "already holds this run" in out and not err
    assert snapshot(tmp_path) == before
    assert_refused(capsys, tmp_path, ["run", TESTLAND, "--out", finished, *FAST, "--seed", "2"], "--force",
                   "other inputs")


def test_force_replaces_only_the_runs_own_files(finished, capsys):
    (finished / "notes.txt").write_text("my notes\n")
    os.chmod(finished / "notes.txt", 0o600)
    (finished / "plots").mkdir()
    (finished / "plots" / "mine.png").write_bytes(b"png")
    old = (finished / "timeseries.csv").read_bytes()
    rc, err, _ = run(capsys, finished, "--seed", "2", "--force")
    assert rc == 0, err
    assert (finished / "notes.txt").read_text() == "my notes\n"
    assert stat.S_IMODE((finished / "notes.txt").stat().st_mode) == 0o600
    assert (finished / "plots" / "mine.png").read_bytes() == b"png"
    assert (finished / "timeseries.csv").read_bytes() != old
    assert json.loads((finished / "manifest.json").read_text())["seed"] == 2
    assert sorted(p.name for p in finished.iterdir()) == [
        folders.MARKER, "manifest.json", "notes.txt", "plots", "summary.json", "summary.md", "timeseries.csv"]


def test_an_emptied_timeseries_is_not_a_finished_run(finished, capsys):
    good = (finished / "timeseries.csv").read_bytes()
    (finished / "timeseries.csv").write_text("")
    rc, err, out = run(capsys, finished, "--seed", "1")  # same inputs, no --force: run again
    assert rc == 0 and "already holds" not in out, err
    assert (finished / "timeseries.csv").read_bytes() == good  # the same run, whole again


def test_a_claimed_folder_whose_run_was_killed_is_the_projects(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / folders.MARKER).write_text(json.dumps({"tool": "smo-abm", "kind": "run"}))
    rc, err, _ = run(capsys, out)
    assert rc == 0, err
    assert (out / "manifest.json").exists()


# --- temporaries of killed writers ---

KILLED_WRITER = """
import os, signal, sys
from abm import folders
with folders.claim(sys.argv[1], "run") as f:
    f.prepare()
    tmp = f.staging()
    (tmp / "timeseries.csv").write_text("date,metric\\n2023")
    (f.out / ".timeseries.csv.abcd1234.tmp").write_text("half")
    os.kill(os.getpid(), signal.SIGKILL)
"""


def test_temporaries_left_by_a_killed_writer_are_cleaned_on_the_next_run(tmp_path, capsys):
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(out)], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == -signal.SIGKILL, r.stderr
    assert [p.name for p in out.glob(folders.TMP_PREFIX + "*")] and (out / ".timeseries.csv.abcd1234.tmp").exists()
    # what earlier versions left beside a run folder, and things that only look alike
    (tmp_path / ".out.k2j4_x9q").mkdir()
    (tmp_path / ".out.k2j4_x9q" / "timeseries.csv").write_text("half")
    (tmp_path / ".out.old-4242").mkdir()
    (tmp_path / ".out.old-4242" / "summary.json").write_text("{}")
    (tmp_path / ".out.old-4343").mkdir()
    (tmp_path / ".out.old-4343" / "thesis.txt").write_text("a user's file swapped out by an old version")
    (tmp_path / ".out.notes").mkdir()
    (out / "keep.tmpl").write_text("mine")
    (out / "notes.tmp").write_text("a user's file that only ends like a temporary")
    (out / ".notes.tmp").write_text("another")
    rc, err, _ = run(capsys, out)  # no lock left by the killed process
    assert rc == 0, err
    assert not list(out.glob(folders.TMP_PREFIX + "*"))
    assert sorted(p.name for p in out.rglob("*.tmp")) == [".notes.tmp", "notes.tmp"]
    assert not (out / folders.PID).exists()
    assert (out / "keep.tmpl").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == [".out.notes", ".out.old-4343"]


# --- permissions ---

@pytest.mark.parametrize("mask", [0o022, 0o027], ids=["022", "027"])
def test_created_folders_and_files_follow_the_umask(tmp_path, capsys, mask):
    old = os.umask(mask)
    try:
        out = tmp_path / "a" / "out"
        rc, err, _ = cli(capsys, "run", TESTLAND, "--out", out, "--scale", "0.001", "--quiet")  # with figures
    finally:
        os.umask(old)
    assert rc == 0, err
    for d in (tmp_path / "a", out, out / "figures"):
        assert stat.S_IMODE(d.stat().st_mode) == 0o777 & ~mask, d
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) >= 5
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~mask, f


# --- one writer at a time ---

def test_a_second_writer_is_refused_while_the_first_writes(tmp_path, capsys):
    out = tmp_path / "out"
    first = subprocess.Popen([sys.executable, "-m", "abm.cli", "run", BASELINE, "--out", str(out), "--scale", "0.002",
                              "--no-figures", "--quiet"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (out / folders.PID).exists():  # written as its simulation starts
            time.sleep(0.02)
        assert (out / folders.PID).exists(), "the first writer never started"
        rc, err, _ = run(capsys, out, scenario=BASELINE)
        assert rc == 2 and len(err) == 1 and "Traceback" not in err[0], err
        assert f"being written by another smo-abm process (pid {first.pid})" in err[0]
    finally:
        stdout, stderr = first.communicate(timeout=120)
    assert first.returncode == 0, stderr
    assert json.loads((out / "manifest.json").read_text())["scale"] == 0.002  # the first one's run, whole
    assert not (out / folders.PID).exists()


# --- write errors ---

def test_write_errors_before_the_run_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a_file").write_text("x")
    (tmp_path / "draft.txt").write_text("y")
    assert_refused(capsys, tmp_path, ["run", TESTLAND, "--out", "/proc/smo-abm-test/out", *FAST], "cannot create")
    assert_refused(capsys, tmp_path, ["run", TESTLAND, "--out", "/proc/smo-abm-test", *FAST], "cannot create")
    assert_refused(capsys, tmp_path, ["run", TESTLAND, "--out", tmp_path / "a_file" / "out", *FAST],
                   "is a file, not a folder")
    assert_refused(capsys, tmp_path, ["run", TESTLAND, "--out", tmp_path / "a_file", *FAST], "not a folder")
    assert_refused(capsys, tmp_path, ["run", TESTLAND, "--out", ".", *FAST], "did not write", "draft.txt")


def test_a_folder_that_cannot_be_written_is_refused(tmp_path, capsys, monkeypatch):
    """Read-only as root: the probe file is what fails (os.access would say yes)."""
    def refuse(*a, **k):
        raise PermissionError(errno.EROFS, "Read-only file system")
    monkeypatch.setattr(folders.tempfile, "mkstemp", refuse)
    out = tmp_path / "out"
    assert_refused(capsys, tmp_path, ["run", TESTLAND, "--out", out, *FAST], "cannot write", "Read-only")


def test_too_little_free_space_is_refused_before_the_run(tmp_path, capsys, monkeypatch):
    usage = shutil.disk_usage(tmp_path)._replace(free=100_000)
    monkeypatch.setattr(folders.shutil, "disk_usage", lambda p: usage)
    assert_refused(capsys, tmp_path, ["run", TESTLAND, "--out", tmp_path / "out", *FAST], "100 kB free", "needs")


def _disk_full_after(n: int):
    """A write that writes `n` bytes, then fails as a full disk does."""
    def write(self, path_or_buf=None, *a, **k):
        Path(path_or_buf).write_text("date,metric,nationality,host,value\n2023"[:n])
        raise OSError(errno.ENOSPC, "No space left on device")
    return write


def test_a_full_disk_while_writing_a_run_leaves_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(pd.DataFrame, "to_csv", _disk_full_after(20))
    out = tmp_path / "out"
    assert_refused(capsys, tmp_path, ["run", TESTLAND, "--out", out, *FAST], "No space left", "nothing")
    assert not out.exists()


def test_a_full_disk_keeps_the_earlier_run(finished, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(pd.DataFrame, "to_csv", _disk_full_after(20))
    assert_refused(capsys, tmp_path, ["run", TESTLAND, "--out", finished, *FAST, "--seed", "2", "--force"],
                   "No space left")


def test_a_full_disk_in_an_experiment_leaves_no_half_set(tmp_path, capsys, monkeypatch):
    import experiments.report as report

    f = tiny_experiment(tmp_path)
    out = tmp_path / "exp"
    calls = []

    def full(path, data):
        calls.append(path)
        Path(path).write_bytes(data[:10])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report, "write_file", full)
    rc, err, _ = cli(capsys, "experiment", f, "--out", out, "--single-process", "--quiet")
    assert rc == 2 and len(err) == 1 and "No space left" in err[0] and "Traceback" not in err[0], err
    assert calls, "the report was being written"
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert left == [folders.MARKER, "runs/baseline/rep000-point.json", "runs/capacity_x3/rep000-point.json"]
    monkeypatch.undo()
    rc, err, _ = cli(capsys, "experiment", f, "--out", out, "--single-process", "--quiet")  # resumes, finishes
    assert rc == 0, err
    assert {"runs.csv", "effects.csv", "report.html", "manifest.json"} <= {p.name for p in out.iterdir()}
    assert not list(out.rglob("*.tmp"))


def test_a_full_disk_while_writing_a_run_file_keeps_the_finished_runs(tmp_path, capsys, monkeypatch):
    """The second run file cannot be flushed: one line; the first run file is kept, no temporary file is left."""
    real, flushed = os.fsync, []

    def fsync(fd):
        if "/runs/" in os.readlink(f"/proc/self/fd/{fd}"):
            flushed.append(fd)
            if len(flushed) == 2:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)
    monkeypatch.setattr(os, "fsync", fsync)
    out = tmp_path / "exp"
    rc, err, _ = cli(capsys, "experiment", tiny_experiment(tmp_path), "--out", out, "--single-process", "--quiet")
    assert rc == 2 and len(err) == 1 and "Traceback" not in err[0], err
    assert "No space left" in err[0] and f"finished runs are kept in {out / 'runs'}" in err[0]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        folders.MARKER, "runs/baseline/rep000-point.json"]


# --- Ctrl-C ---

def test_ctrl_c_in_a_run_says_nothing_was_written(tmp_path, capsys, monkeypatch):
    from abm.model import SafeMobilityModel

    def interrupted(self, progress=None):
        raise KeyboardInterrupt
    monkeypatch.setattr(SafeMobilityModel, "run", interrupted)
    out = tmp_path / "out"
    rc, err, _ = run(capsys, out)
    assert rc == 130 and err == ["interrupted: nothing was written (temporary files removed)"]
    assert not out.exists()


def test_ctrl_c_leaves_a_users_empty_folder_empty(tmp_path, capsys, monkeypatch):
    from abm.model import SafeMobilityModel

    def interrupted(self, progress=None):
        raise KeyboardInterrupt
    monkeypatch.setattr(SafeMobilityModel, "run", interrupted)
    out = tmp_path / "empty"
    out.mkdir(mode=0o711)
    rc, err, _ = run(capsys, out)
    assert rc == 130 and err == ["interrupted: nothing was written (temporary files removed)"]
    assert list(out.iterdir()) == [] and stat.S_IMODE(out.stat().st_mode) == 0o711 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_ctrl_c_in_an_experiment_says_what_was_kept(tmp_path, capsys, monkeypatch):
    import experiments.runner as runner

    real, calls = runner.run_task, []

    def second_interrupted(task):
        calls.append(task)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(task)
    monkeypatch.setattr(runner, "run_task", second_interrupted)
    out = tmp_path / "exp"
    rc, err, _ = cli(capsys, "experiment", tiny_experiment(tmp_path), "--out", out, "--single-process", "--quiet")
    assert rc == 130
    assert err == [f"interrupted: 1 finished runs are kept in {out / 'runs'}; the same command resumes from them"]
    assert len(list(out.glob("runs/*/*.json"))) == 1 and not (out / folders.PID).exists()


def test_another_experiments_folder_is_not_resumed_into(tmp_path, capsys):
    """Experiment B into experiment A's finished folder: refused (B's runs would replace A's run files and
    its report), A's folder untouched; A itself resumes there (reruns nothing, exit 0)."""
    a, b = tiny_experiment(tmp_path, "first"), tiny_experiment(tmp_path, "second")
    out = tmp_path / "exp"
    rc, err, _ = cli(capsys, "experiment", a, "--out", out, "--single-process", "--quiet")
    assert rc == 0, err
    assert_refused(capsys, tmp_path, ["experiment", b, "--out", out, "--single-process", "--quiet"],
                   "holds the results of experiment 'first'", "not 'second'")
    before = snapshot(out / "runs")
    rc, err, _ = cli(capsys, "experiment", a, "--out", out, "--single-process", "--quiet")
    assert rc == 0, err
    assert snapshot(out / "runs") == before


def test_a_full_disk_during_a_calibration_check_is_one_line(tmp_path, capsys, monkeypatch):
    """pyabc's database and the check's run files are written by calibration/: an OSError there is one line
    too, saying what is kept (not a traceback)."""
    import calibration.check

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(calibration.check, "check", full)
    out = tmp_path / "cal"
    rc, err, _ = cli(capsys, "calibrate", "--check", "--out", out, "--quiet")
    assert rc == 2 and len(err) == 1 and "No space left on device (free some space)" in err[0], err
    assert "kept in" in err[0] and "Traceback" not in err[0]
