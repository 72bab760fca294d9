"""Output folders: which folders a command may write into, one writer at a time, and how a result is put in
place without touching anything else.

A command writes into a folder DIR only if DIR does not exist, is empty, or holds output of this project of
the same kind (a run, an experiment, ...). The project's folders say so: a marker file `.smo-abm` (written
when the folder is claimed, so a run killed before its manifest existed still leaves a folder the next run
recognises) and a manifest.json with "tool" and "kind". Folders written before the marker existed are
recognised by their manifest, or by holding nothing but names the project writes for that kind.

While a command works on DIR it holds an exclusive flock on DIR itself (the folder is the lock file: nothing
is created in a folder that is then refused): the kernel drops it when the process ends, however it ends, so
a killed writer leaves no stale lock. The writer's pid is in DIR/.smo-abm.pid while it writes, for the
message a second writer gets.

Results are written into a temporary folder inside DIR (`.smo-abm-tmp.XXXXXXXX`), then each of the project's
files is moved into DIR, the manifest last: the manifest holds a sha256 of every file it vouches for, so a
crash halfway leaves a folder that is not finished (its checksums fail) but still the project's. Files a
user added to DIR are never touched. Temporaries a killed process left (`.smo-abm-tmp.*`, `*.tmp`, and the
`.NAME.XXXXXXXX` / `.NAME.old-PID` folders earlier versions made beside a run folder) are removed on the next
claim of that folder: only names of those patterns, in a folder recognised as the project's.
"""
from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from .errors import InputError

TOOL = "smo-abm"
MARKER = ".smo-abm"
PID = ".smo-abm.pid"  # the writer's process id while it writes, for the message another writer gets
TMP_PREFIX = ".smo-abm-tmp."
KINDS = ("run", "experiment", "validation", "sensitivity", "bench", "versus", "scale_check", "calibration")

#: the names each kind writes at the top of its folder (besides MARKER): a folder holding only these is
#: recognised as that kind's even without a marker (written by a version before the marker existed)
OWN = {
    "run": {"timeseries.csv", "summary.json", "summary.md", "manifest.json", "figures"},
    "experiment": {"runs", "runs.csv", "effects.csv", "report.html", "figures", "manifest.json"},
    "validation": {"validation.csv", "validation.md", "figures", "manifest.json"},
    "sensitivity": {"runs", "morris.csv", "morris_samples.csv", "sobol.csv", "sobol_samples.csv", "figures",
                    "manifest.json"},
    "bench": {"bench.json", "report.md", "manifest.json"},
    "versus": {"versus.json", "versus.md", "manifest.json"},
    "scale_check": {"scale_check.csv", "scale_check.md", "manifest.json"},
    "calibration": {"abc.db", "abc.db-journal", "design", "emulated-wave1.db", "emulated-wave1.db-journal",
                    "emulated-wave1.db.key", "emulated.db", "emulated.db-journal", "emulated.db.key", "emulator.csv", "predictive", "targets.csv", "parameters.csv", "marginals.png",
                    "pairplot.png", "predictive.png", "pause.png", "report.md", "manifest.json"},
}

#: of which a folder written before the marker existed holds at least one (a lone report.md is no bench's)
DISTINCT = {"run": {"timeseries.csv"}, "experiment": {"runs", "runs.csv", "effects.csv"},
            "validation": {"validation.csv"}, "sensitivity": {"runs", "morris.csv", "sobol.csv"},
            "bench": {"bench.json"}, "versus": {"versus.json"}, "scale_check": {"scale_check.csv"}, "calibration": {"abc.db", "predictive", "design"}}

#: manifest keys by which a manifest written before "tool" and "kind" existed shows its kind
LEGACY_MANIFEST = {"run": {"inputs_hash", "scenario"}, "experiment": {"experiment_sha256"},
                   "sensitivity": {"methods", "trajectories"}}

#: subfolders in which the project writes files through a temporary "*.tmp" file (besides the folder itself)
TMP_FILE_DIRS = ("figures", "predictive", "runs/*")

_MKDTEMP_SUFFIX = r"[a-z0-9_]{8}"  # tempfile's random names


def plain_name(file, field: str, value) -> str:
    """`value` if it can be a folder name of its own (names in scenario and experiment files become folders
    under results/): not empty, no path separator, not `.` or `..`, no leading dot."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(file, field, f"must be a non-empty name, not {value!r}")
    seps = {"/", "\\", os.sep} | ({os.altsep} if os.altsep else set())
    if any(s in value for s in seps) or "\0" in value:
        raise InputError(file, field, f"must be a plain name without path separators, not {value!r}")
    if value.startswith("."):
        raise InputError(file, field, f"must not start with '.' (not {value!r}): it names a folder under results/")
    return value


def out_path(given, default: Path, field: str = "--out") -> tuple[Path, str]:
    """The output folder and the field to blame in errors: `given` (an --out value) or `default`. An empty
    --out is an error, not the default."""
    if given is None:
        return Path(default), "output folder"
    if not str(given).strip():
        raise InputError("command line", field, "is empty: name a folder")
    return Path(given), field


def kind_of(folder: Path) -> str | None:
    """The kind of output of this project `folder` holds, by its marker or manifest, or None."""
    for name in (MARKER, "manifest.json"):
        data = read_json(folder / name)
        if data.get("tool") == TOOL and data.get("kind") in KINDS:
            return data["kind"]
    data = read_json(folder / "manifest.json")
    for kind, keys in LEGACY_MANIFEST.items():
        if keys <= set(data):
            return kind
    return None


def read_json(path: Path) -> dict:
    """A JSON file's table, or {} if it is missing, unreadable, not a table, or too large to be a manifest or a
    marker of this project (manifests are read from folders a user may have filled)."""
    try:
        if path.is_file() and path.stat().st_size < 50_000_000:
            data = json.loads(path.read_text())
            return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        pass
    return {}


def _listing(entries: list[os.DirEntry]) -> str:
    names = sorted(e.name + ("/" if e.is_dir(follow_symlinks=False) else "") for e in entries)
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return ", ".join(names[:5]) + more


def _is_temporary(name: str) -> bool:
    return name.startswith(TMP_PREFIX) or name.endswith(".tmp")


#: the temporary files the project writes: ".NAME.XXXXXXXX.tmp" (abm.outputs.write_text_atomic, through
#: mkstemp), and "NAME.png.tmp" (the figures of versions before abm/folders.py); a user's "notes.tmp" is not one
_OWN_TEMPORARY = re.compile(rf"(\..+\.{_MKDTEMP_SUFFIX}\.tmp|.+\.png\.tmp)")


def _own_temporary(name: str) -> bool:
    return bool(_OWN_TEMPORARY.fullmatch(name))


def _legacy_kind(names: set[str], prefer: str) -> str | None:
    """The kind of a folder written before the marker existed: it holds one of the kind's distinctive names
    and nothing but names of that kind (`prefer` first, where names are shared)."""
    for kind in (prefer, *KINDS):
        if names & DISTINCT[kind] and all(n in OWN[kind] or n in (MARKER, PID) or _is_temporary(n) for n in names):
            return kind
    return None


def check_folder(out: Path, kind: str, field: str):
    """An InputError unless a command of `kind` may write into `out` (see the module docstring)."""
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise InputError(out, field, "exists and is not a folder")
        try:
            entries = list(os.scandir(out))
        except OSError as e:
            raise InputError(out, field, f"cannot read the folder: {e.strerror}") from None
        if not entries:
            return
        found = kind_of(out) or _legacy_kind({e.name for e in entries}, kind)
        if found is None:
            raise InputError(out, field, f"holds files this project did not write: {_listing(entries)}; "
                                         "choose a new or empty folder")
        if found != kind:
            raise InputError(out, field, f"holds {_article(found)} {found} of this project, not {_article(kind)} "
                                         f"{kind}: choose another folder")
        return
    parent = _nearest_existing(out)
    if not parent.is_dir():
        raise InputError(out, field, f"{parent} is a file, not a folder")


def _article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def _nearest_existing(path: Path) -> Path:
    p = Path(os.path.abspath(path))
    while not (p.exists() or p.is_symlink()) and p != p.parent:
        p = p.parent
    return p


class Claim:
    """A folder this process writes into: checked, created if need be, locked. Use as a context manager;
    on leaving by an error (or Ctrl-C) the temporaries are removed, and so is the folder if this claim
    created it (or the marker, if it added the marker to an empty folder) and nothing else went into it."""

    def __init__(self, out: Path, kind: str, field: str = "--out", need_bytes: int = 0):
        self.out, self.kind, self.field, self.need_bytes = Path(out), kind, field, int(need_bytes)
        self.created: Path | None = None  # the topmost folder this claim made
        self.fd: int | None = None
        self.tmp: list[Path] = []
        self.wrote_pid = False
        self.locked = False  # only the lock's holder may remove a folder it made (another process may hold it)
        self.wrote_marker = False  # a marker this claim added (removed again if nothing else came)
        self.moving = False  # between removing the old manifest and moving the new one in

    # -- taking it --

    def __enter__(self) -> "Claim":
        check_folder(self.out, self.kind, self.field)
        try:
            self._create()
            self._lock()
            self._probe()
            self._check_space()
        except BaseException:
            self._undo()
            raise
        return self

    def _create(self):
        if self.out.is_dir():
            return
        top = self.out
        while not top.parent.exists() and top.parent != top.parent.parent:
            top = top.parent
        try:
            self.out.mkdir(parents=True)  # mode 0777 less the umask, as any folder
        except FileExistsError:
            return  # another process made it just now: the lock decides
        except OSError as e:
            raise InputError(self.out, self.field, f"cannot create the folder: {e.strerror}") from None
        self.created = top

    def _lock(self):
        try:
            self.fd = os.open(self.out, os.O_RDONLY | os.O_DIRECTORY)
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.locked = True
        except BlockingIOError:
            pid = _writer_pid(self.out)
            raise InputError(self.out, self.field, f"is being written by another smo-abm process{pid}; "
                                                   "wait for it or choose another folder") from None
        except OSError as e:
            raise InputError(self.out, self.field, f"cannot open the folder: {e.strerror}") from None

    def _probe(self):
        """Try to write: permissions as seen by this process (os.access is wrong for root on a read-only mount)."""
        try:
            fd, name = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=".probe.tmp", dir=self.out)
            os.close(fd)
            os.unlink(name)
        except OSError as e:
            raise InputError(self.out, self.field, f"cannot write in the folder: {e.strerror}") from None

    def _check_space(self):
        free = shutil.disk_usage(self.out).free
        if free < self.need_bytes:
            raise InputError(self.out, self.field, f"{_mb(free)} free, the output needs about {_mb(self.need_bytes)}: "
                                                   "free some space or choose another folder")

    # -- using it --

    def prepare(self):
        """Once the command has decided to write: remove what killed writers left, and mark the folder ours."""
        try:
            clean_stale(self.out, self.kind)
            marker = json.dumps({"tool": TOOL, "kind": self.kind}) + "\n"
            if not (self.out / MARKER).is_file() or (self.out / MARKER).read_text() != marker:
                self.wrote_marker = not (self.out / MARKER).exists()
                write_file(self.out / MARKER, marker)  # left as is when it says so already
            write_file(self.out / PID, f"{os.getpid()}\n")
            self.wrote_pid = True
        except OSError as e:
            raise write_error(self.out, self.field, e) from None

    def existing_manifest(self) -> dict:
        """The folder's manifest.json as a table ({} if none or unreadable), finished or not."""
        return read_json(self.out / "manifest.json")

    def finished_manifest(self) -> dict | None:
        """The manifest if the folder holds a finished result of this kind (see finished_manifest)."""
        return finished_manifest(self.out, self.kind)

    def staging(self) -> Path:
        """A new temporary folder inside the output folder (same file system: the moves are renames)."""
        try:
            tmp = Path(tempfile.mkdtemp(prefix=TMP_PREFIX, dir=self.out))
        except OSError as e:
            raise write_error(self.out, self.field, e) from None
        self.tmp.append(tmp)
        return tmp

    def publish(self, write):
        """`write(tmp)` writes the result's files into a temporary folder and returns the manifest (a dict);
        then each file is moved into the folder, the manifest (with a sha256 of each file) last. Files of
        the previous result that this one does not have are removed; nothing else in the folder is touched.
        Any OSError: one line naming the folder, nothing of the new result left."""
        tmp = self.staging()
        try:
            man = write(tmp)
            files = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
            old = read_json(self.out / "manifest.json").get("checksums", {})
            man = {"tool": TOOL, "kind": self.kind, **man, "checksums": {f: sha256(tmp / f) for f in files}}
            write_file(tmp / "manifest.json", json.dumps(man, indent=2, default=str) + "\n")
            self.moving = True
            (self.out / "manifest.json").unlink(missing_ok=True)  # from here on the folder is not finished
            for rel in set(old) - set(files) if isinstance(old, dict) else ():
                if (p := self._inside(rel)) is not None and p.is_file():
                    p.unlink()  # the previous result's file that this one does not have
            for rel in files + ["manifest.json"]:
                dest = self.out / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp / rel, dest)
            self.moving = False
        except OSError as e:
            kept = UNFINISHED if self.moving else "nothing of this result was kept"
            raise write_error(self.out, self.field, e, kept) from None
        finally:
            self._remove_tmp()
        return man

    def _inside(self, rel) -> Path | None:
        return _inside(self.out, rel)

    # -- leaving it --

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self._release()
            return False
        self._undo()
        if issubclass(exc_type, KeyboardInterrupt) and not isinstance(exc, Interrupted):
            message = f"interrupted: {UNFINISHED}" if self.moving else interrupted_message(self.out, self.kind)
            raise Interrupted(message) from None  # say what Ctrl-C left
        return False

    def _remove_tmp(self):
        for t in self.tmp:
            shutil.rmtree(t, ignore_errors=True)
        self.tmp = []

    def _undo(self):
        """After an error: no temporaries, and no folder this claim made if nothing of worth went into it."""
        self._remove_tmp()
        if (self.created is not None or self.wrote_marker) and self.locked and self.out.is_dir():
            if not {p.name for p in self.out.iterdir()} - {MARKER, PID}:
                for name in (MARKER, PID):
                    (self.out / name).unlink(missing_ok=True)
                self.wrote_pid = False
                if self.created is not None:
                    _remove_empty(self.out, self.created)
        self._release()

    def _release(self):
        if self.wrote_pid:
            (self.out / PID).unlink(missing_ok=True)
            self.wrote_pid = False
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None
            self.locked = False


def finished_manifest(out: Path, kind: str) -> dict | None:
    """The manifest of `out` if the folder holds a finished result of `kind`: a manifest of this project and
    kind whose checksums all match the files they name (an emptied or half-moved file is not finished)."""
    m = read_json(Path(out) / "manifest.json")
    sums = m.get("checksums")
    if m.get("tool") != TOOL or m.get("kind") != kind or not isinstance(sums, dict) or not sums:
        return None
    for rel, digest in sums.items():
        path = _inside(Path(out), rel)
        if path is None or not path.is_file() or sha256(path) != digest:
            return None
    return m


def _inside(out: Path, rel) -> Path | None:
    """`out/rel` if `rel` is a relative path that stays inside the folder (manifests are not trusted)."""
    if not isinstance(rel, str) or not rel or os.path.isabs(rel) or ".." in Path(rel).parts:
        return None
    path = out / rel
    return path if path.resolve().is_relative_to(out.resolve()) else None  # no symlink out of it


def _remove_empty(folder: Path, top: Path):
    """Remove `folder` and its parents up to `top`, each only if empty (os.rmdir refuses otherwise)."""
    p = Path(os.path.abspath(folder))
    top = Path(os.path.abspath(top))
    while True:
        try:
            os.rmdir(p)
        except OSError:
            return
        if p == top or p == p.parent:
            return
        p = p.parent


def claim(out, kind: str, field: str = "--out", need_bytes: int = 0) -> Claim:
    """`with claim(out, kind) as folder:` see Claim."""
    assert kind in KINDS, kind
    return Claim(Path(out), kind, field, need_bytes)


def clean_stale(out: Path, kind: str):
    """Remove the temporaries killed writers left in (and, for runs, beside) `out`: only the project's patterns."""
    for t in out.glob(TMP_PREFIX + "*"):
        if t.is_dir() and not t.is_symlink():
            shutil.rmtree(t, ignore_errors=True)
        elif t.is_file():
            t.unlink(missing_ok=True)
    for d in [out, *(d for sub in TMP_FILE_DIRS for d in out.glob(sub))]:
        if d.is_dir() and not d.is_symlink():
            for f in d.iterdir():
                if _own_temporary(f.name) and f.is_file() and not f.is_symlink():
                    f.unlink(missing_ok=True)
    if kind == "run":
        _clean_legacy_beside(out)


def _clean_legacy_beside(out: Path):
    """Versions before this one wrote a run into `.NAME.XXXXXXXX` beside its folder and swapped it in through
    `.NAME.old-PID`: such a folder left by a killed run is removed if it holds nothing but run files."""
    out = Path(os.path.abspath(out))  # `--out .` has a name too
    pattern = re.compile(rf"\.{re.escape(out.name)}\.({_MKDTEMP_SUFFIX}|old-\d+)")
    for d in out.parent.glob(f".{out.name}.*"):
        if pattern.fullmatch(d.name) and d.is_dir() and not d.is_symlink():
            names = {p.name for p in d.iterdir()}
            figs = d / "figures"
            if names <= OWN["run"] and (not figs.is_dir() or all(p.suffix == ".png" for p in figs.iterdir())):
                shutil.rmtree(d, ignore_errors=True)


def write_file(path: Path, text: str | bytes):
    """Write a file and flush it to disk (the callers write into temporary names, then rename)."""
    data = text.encode() if isinstance(text, str) else text
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_error(out: Path, field: str, e: OSError, kept: str = "nothing of this result was kept") -> InputError:
    """The one-line error for an OSError while writing into `out`, saying what is left."""
    what = e.strerror or str(e)
    name = f" {Path(e.filename).name}" if getattr(e, "filename", None) else ""
    hint = " (free some space)" if e.errno in (errno.ENOSPC, errno.EDQUOT) else ""
    return InputError(out, field, f"writing{name} failed: {what}{hint}; {kept}")


def _mb(n: int) -> str:
    return f"{n / 1e6:,.0f} MB" if n >= 1e6 else f"{n / 1e3:,.0f} kB"


def _writer_pid(out: Path) -> str:
    """' (pid N)' naming the process that writes into `out`, if it said so and still runs."""
    try:
        pid = int((out / PID).read_text().strip())
    except (OSError, ValueError):
        return ""
    return f" (pid {pid})" if _alive(pid) else ""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


#: where a kind keeps the finished runs a rerun of the same command resumes from
RESUMABLE = {"experiment": ("runs", "*/*.json"), "sensitivity": ("runs", "*/*.json"),
             "calibration": ("predictive", "*.json")}

NOTHING_WRITTEN = "interrupted: nothing was written (temporary files removed)"
UNFINISHED = ("the folder holds part of the new result and no manifest (not a finished result); "
              "the same command writes it again")


class Interrupted(KeyboardInterrupt):
    """Ctrl-C, with the line that says what was kept."""

    def __init__(self, message: str = NOTHING_WRITTEN):
        super().__init__(message)
        self.message = message


def interrupted_message(out: Path, kind: str) -> str:
    """What Ctrl-C leaves: the finished runs of an experiment, sensitivity analysis or posterior-predictive
    check (a rerun resumes from them), else nothing (the temporaries are removed, a folder made for
    nothing too)."""
    sub, pattern = RESUMABLE.get(kind, (None, None))
    n = sum(1 for _ in (out / sub).glob(pattern)) if sub and (out / sub).is_dir() else 0
    if n:
        return f"interrupted: {n} finished runs are kept in {out / sub}; the same command resumes from them"
    return NOTHING_WRITTEN
