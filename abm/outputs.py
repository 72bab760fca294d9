"""Run outputs, in people (not agents): timeseries.csv, summary.json, manifest.json, figures/.

Files are written into a temporary folder beside the output folder and moved into place only when
complete, so an interrupted run never leaves a half-written result, and an earlier complete result is
kept until the new one is ready.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .model import METRICS

OUTPUT_FILES = ("timeseries.csv", "summary.json", "manifest.json")


def timeseries(model) -> pd.DataFrame:
    """Tidy weekly series: date, metric, nationality, host, value (people)."""
    pack = model.pack
    nats, places = pack.nationalities, pack.places
    df = model.datacollector.get_model_vars_dataframe()
    cells = sorted({int(c) for c in np.unique(model.people.cell)})
    nat_of = [nats[c // len(places)] for c in cells]
    host_of = [places[c % len(places)] for c in cells]
    dates = [model.date_of(w).isoformat() for w in range(len(df))]
    frames = []
    for metric in METRICS:
        vals = np.stack(df[metric].to_numpy())[:, cells] * model.weight  # weeks x cells
        frames.append(pd.DataFrame({
            "date": np.repeat(dates, len(cells)),
            "metric": metric,
            "nationality": np.tile(nat_of, len(dates)),
            "host": np.tile(host_of, len(dates)),
            "value": vals.reshape(-1),
        }))
    out = pd.concat(frames, ignore_index=True)
    out["value"] = out["value"].round(6)
    return out


def git_commit() -> str:
    try:
        here = Path(__file__).resolve().parent
        r = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5)
        if r.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=here,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return r.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


#: pack meta keys that only label or point to checks: they do not change a run, so not its identity
NOT_INPUTS = ("crossings", "validation_checks")


def inputs_hash(scenario) -> str:
    """Identifies a run's inputs: a folder with a manifest of the same hash is already done."""
    resolved = scenario.resolved()
    meta = resolved["pack"].get("meta", {})
    resolved["pack"]["meta"] = {k: v for k, v in meta.items() if k not in NOT_INPUTS}
    blob = json.dumps({"resolved": resolved, "version": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def manifest(model, wall_s: float, out: Path, figures: bool = True) -> dict:
    sc = model.scenario
    return {
        "scenario": str(sc.path),
        "name": sc.name,
        "overrides": sc.overrides,
        "seed": sc.seed,
        "scale": sc.scale,
        "agents": int(model.people.n),
        "people_per_agent": model.weight,
        "version": __version__,
        "git_commit": git_commit(),
        "wall_time_s": round(wall_s, 3),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "inputs_hash": inputs_hash(sc),
        "policies_applied": [{"week": w, "date": p.date.isoformat(), "kind": p.kind, **p.fields}
                             for w, p in model.timeline.applied],
        "parameters": sc.resolved(),
        "files": list(OUTPUT_FILES) + (["figures/"] if figures else []),
    }


def is_complete(out: Path, scenario) -> bool:
    """True if `out` already holds a finished run of exactly these inputs (so it can be skipped)."""
    m = out / "manifest.json"
    if not m.exists() or not all((out / f).exists() for f in OUTPUT_FILES):
        return False
    try:
        return json.loads(m.read_text()).get("inputs_hash") == inputs_hash(scenario)
    except (OSError, ValueError):
        return False


def write_run(model, out: Path, wall_s: float, figures: bool = True):
    """Write all outputs of a finished run into `out`, atomically."""
    from calibration.targets import summary
    from .figures import make_figures

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        ts = timeseries(model)
        ts.to_csv(tmp / "timeseries.csv", index=False, float_format="%.6g")
        (tmp / "summary.json").write_text(json.dumps(summary(model, ts), indent=2, default=_num))
        if figures:
            make_figures(ts, model, tmp / "figures")
        (tmp / "manifest.json").write_text(json.dumps(manifest(model, wall_s, out, figures), indent=2, default=_num))
        _swap_in(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_text_atomic(path, text: str):
    """Write a file so that a reader (or a crash) sees the old file or the new one, never half of it:
    a temporary file beside it (".<name>.*.tmp"), flushed to disk, then renamed over it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; give it a normal file's permissions
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _swap_in(tmp: Path, out: Path):
    """Replace `out` by `tmp`, keeping the old folder until the new one is in place."""
    if out.exists():
        old = out.with_name(f".{out.name}.old-{os.getpid()}")
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, out)


def _num(x):
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, (dt.date,)):
        return x.isoformat()
    raise TypeError(type(x))
