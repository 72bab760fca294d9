"""Run outputs, in people (not agents): timeseries.csv, summary.json and summary.md (the same in words),
manifest.json, figures/.

The files are written into a temporary folder inside the output folder and moved into place one by one,
the manifest last (abm/folders.py): the manifest holds a sha256 of each file, so a run is finished only when
every file is whole, and files a user added to the folder are never touched.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .folders import Claim, write_file
from .model import METRICS

OUTPUT_FILES = ("timeseries.csv", "summary.json", "summary.md", "manifest.json")

#: timeseries.csv bytes per row (date, metric, nationality, host, value): 45 measured at scale 0.001, with room
ROW_BYTES = 64
#: the figures of a run (about 0.35 MB measured), with room
FIGURE_BYTES = 5_000_000


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
NOT_INPUTS = ("crossings", "office", "offices", "pathway", "validation_checks")


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
        "tool": "smo-abm",
        "kind": "run",
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


def output_bytes(scenario, figures: bool = True) -> int:
    """An upper estimate of a run's output size, checked against the free space before the run starts:
    timeseries rows = metrics x cells (every nationality in every place) x weeks (with the spin-up)."""
    pack = scenario.pack
    rows = len(METRICS) * len(pack.nationalities) * len(pack.places) * (scenario.n_weeks + scenario.spinup_weeks)
    return rows * ROW_BYTES + 1_000_000 + (FIGURE_BYTES if figures else 0)


def finished_run(folder: Claim, scenario) -> str | None:
    """"same" if `folder` holds a finished run (every checksum of its manifest matches) of exactly these
    inputs, "other" if a finished run of other inputs, None if no finished run."""
    m = folder.finished_manifest()
    if m is None:
        return None
    return "same" if m.get("inputs_hash") == inputs_hash(scenario) else "other"


def write_run(model, folder: Claim, wall_s: float, figures: bool = True, compare=None):
    """Write all outputs of a finished run into the claimed folder: only the project's files are replaced.
    summary.json is the model-only summary (abm/summary.py), plus what `compare(model, ts, summary)` returns
    (blocks comparing the run with data: the command line passes calibration.targets.comparison); summary.md says
    the same in words (abm/summary_text.py)."""
    from .figures import make_figures
    from .summary import summary
    from .summary_text import summary_markdown

    def write(tmp: Path) -> dict:
        ts = timeseries(model)
        ts.to_csv(tmp / "timeseries.csv", index=False, float_format="%.6g")
        s = summary(model, ts)
        if compare is not None:
            s = {**s, **compare(model, ts, s)}
        write_file(tmp / "summary.json", json.dumps(s, indent=2, default=_num))
        write_file(tmp / "summary.md", summary_markdown(json.loads(json.dumps(s, default=_num)), model.pack.labels,
                                                        model.weight))
        if figures:
            make_figures(ts, model, tmp / "figures")
        return json.loads(json.dumps(manifest(model, wall_s, folder.out, figures), default=_num))

    return folder.publish(write)


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
