"""Region packs: everything about a geography, as data files a modeller can copy and edit.

A pack is a folder of TOML files (see abm/packs/americas). They are merged into one table, the
scenario's `[pack]` overrides are merged on top, and the result is validated here: every key must be
one the schema (SCHEMA) knows, every name a table refers to must exist, every share must be in [0, 1],
and every figure must name its source. An override changes what the pack defines, and adds an entry
only in full (see Names), so a misspelt key or name stops with the nearest known ones, never ignored.
"""
from __future__ import annotations

import contextlib
import copy
import math
import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InputError, suggest, unknown

PACKS_DIR = Path(__file__).parent / "packs"

GROUP_FIELDS = {
    # name: (kind, lo, hi); kind "share" in [0, 1]
    "stock": ("num", 0, 1e9),
    "regular": ("share", 0, 1),
    "regularising": ("share", 0, 1),
    "passport": ("share", 0, 1),
    "id_doc": ("share", 0, 1),
    "us_tie": ("share", 0, 1),
    "internet": ("share", 0, 1),
    "protection": ("share", 0, 1),
    "arrived_mean_years": ("num", 0, 50),
    "arrivals_per_week": ("num", 0, 1e7),
    "resources_median_usd": ("num", 0, 1e6),
    "resources_sigma": ("num", 0, 5),
    "savings_usd_week": ("num", 0, 1e4),
    "push": ("num", -20, 0),
}
SEGMENT_FIELDS = {
    "weeks": ("int", 1, 52), "cost_usd": ("num", 0, 1e5), "smuggler_fee_usd": ("num", 0, 1e5),
    "p_death": ("share", 0, 1), "p_injury": ("share", 0, 1), "p_robbery": ("share", 0, 1),
}
#: optional segment fields: interception (at sea) with return to the place of departure; the flag whose
#: entries are counted as `darien_crossings` (the crossing a pack reports on: the Darien, or the sea)
SEGMENT_OPTIONAL = {"p_intercept": ("share", 0, 1), "darien": ("bool",)}
#: optional segment field naming a place of the pack the segment passes through (issue 16): travellers on it
#: may register with an office there whose rules allow registration in transit (`transit_registration`)
SEGMENT_PLACE = ("passes",)
#: optional group fields (issue 16): `arrivals_by_year` = { year = people arriving in that calendar year },
#: spread evenly over the year's days within the run, on top of arrivals_per_week (a flow sized by year, an
#: input); `arrive_travelling` = arrivals are already on the move: they set out on their route the week they
#: arrive (a flow arriving at the route's start, e.g. extra-continental migrants at the Darien's southern end)
GROUP_OPTIONAL = {"arrive_travelling": ("bool",)}
OFFICE_FIELDS = {
    "weekly_quota": ("num", 0, 1e7), "assess_per_week": ("num", 0, 1e7),
    "presence_cutoff": ("bool",), "regular_status_required": ("bool",),
    "host_nationals_eligible": ("bool",), "walk_in": ("bool",), "documents_required": ("bool",),
    # people in transit on a segment passing the office's place may register there (issue 16; optional, false)
    "transit_registration": ("bool",),
}
RESETTLEMENT_FIELDS = {
    "fiscal_year_start_month": ("int", 1, 12),
    "decision_weeks": ("int", 0, 104), "p_approve": ("share", 0, 1), "relocation_per_week": ("num", 0, 1e7),
    "news_per_week": ("share", 0, 1),
}
#: optional: refugee admissions suspended (no resettlement decisions or relocations while true)
RESETTLEMENT_OPTIONAL = {"suspended": ("bool",)}
PAROLE_FIELDS = {
    "requires_sponsor": ("bool",), "requires_passport": ("bool",), "p_denied": ("share", 0, 1),
    "travel_weeks": ("int", 0, 52),
}
#: Information channels (abm/information.py): the channels an announcement can be put on, each a table of a pack's
#: channels.toml. The weekly chance of hearing on a channel is the information parameter `hear_<channel>`
#: (abm/params.py, calibration/priors.toml); the pack says who is on it and how it carries news.
CHANNELS = ("official", "social", "family", "route")
#: who can hear on a channel: residents of a host place; residents with a tie to someone at the
#: destination; people preparing to move (at departure points, among smugglers and other migrants)
AUDIENCES = ("residents", "tie", "preparing")
CHANNEL_FIELDS = {"live_weeks": ("int", 1, 520), "accuracy": ("share", 0, 1), "internet": ("bool",), "rules": ("bool",)}
BORDER_FIELDS = {
    "p_expel_title42": ("share", 0, 1), "p_remove": ("share", 0, 1), "p_remove_shutdown": ("share", 0, 1),
    "p_reattempt": ("share", 0, 1),
}
#: optional border fields (abm/border.py): encounters outside the model's nationalities, per day or in
#: proportion to the modelled ones (counted by the June 2024 rule); the removal chance under the
#: Circumvention rule (default p_remove); the chance an appointment holder is admitted at a port (default 1)
BORDER_OPTIONAL = {"other_encounters_daily": ("num", 0, 1e6), "other_encounters_ratio": ("num", 0, 100),
                   "p_remove_circumvention": ("share", 0, 1), "p_port_admit": ("share", 0, 1)}

#: the optional `[mexico]` table (abm/mexico.py); `geofence_segment` (a segment's name) is checked in load_pack
MEXICO_FIELDS = {
    "exception_share": ("share", 0, 1), "p_register_week": ("share", 0, 1),
    "settle_value": ("num", -20, 20), "south_value": ("num", -20, 20), "news_weight": ("share", 0, 1),
    "appointment_share": ("share", 0, 1),
}


#: meta fields naming a file in calibration/ (the project's targets, posterior and checks files)
META_FILES = ("calibration_targets", "calibration_priors", "calibration_posterior", "validation_checks")
CALIBRATION_DIR = Path(__file__).resolve().parents[1] / "calibration"
#: meta fields naming what the outputs count, in the pack's own words (its crossing, its offices, its legal pathway of
#: the parole kind), and the words a pack without them is reported in: the Americas' ("SMO", "parole") would mislabel
#: another region's offices and pathways
LABELS = {"crossings": "Crossings", "office": "office", "offices": "offices", "pathway": "legal pathway"}
META_FIELDS = ("name", "description", "destination", "currency", *LABELS, "calibration_targets",
               "calibration_priors", "calibration_posterior", "validation_checks")


# --- The schema: every key a pack may hold, level by level (values are checked by load_pack) ---

@dataclass(frozen=True)
class Table:
    """A table whose keys are all known: `fields` maps each key to None (a value) or to the schema of what
    it holds (a Table, Names, Rows or OPEN). With `sources`, a `sources` table may name the source of each
    field (its keys must be fields of this table)."""
    fields: dict
    sources: bool = True


@dataclass(frozen=True)
class Names:
    """A table of named entries, each an `entry` table. A pack's files may define any name; an override
    (scenario `[pack]`, --set, experiment variant) changes the pack's own entries, and may add one only if
    `new` lists the fields it must then give in full (an override that gives part of an entry the pack
    lacks merges onto nothing: a typo)."""
    what: str
    entry: Table
    new: tuple | None = None


@dataclass(frozen=True)
class Rows:
    """An array of tables ([[group]])."""
    entry: Table


OPEN = "open"  # a table whose keys are data (route shares by option, ceilings by fiscal year), checked where read

SCHEMA = Table(sources=False, fields={
    "meta": Table(dict.fromkeys(META_FIELDS), sources=False),
    "places": Names("place", Table({"routes": OPEN})),
    "nationalities": Names("nationality", Table({"home": None})),
    "defaults": Table(dict.fromkeys(GROUP_FIELDS)),
    "group": Rows(Table({**dict.fromkeys(GROUP_FIELDS), **dict.fromkeys(GROUP_OPTIONAL), "nationality": None,
                         "place": None, "routes": OPEN, "arrivals_by_year": OPEN})),
    "segments": Names("segment", Table(dict.fromkeys([*SEGMENT_FIELDS, *SEGMENT_OPTIONAL, *SEGMENT_PLACE])),
                      new=tuple(SEGMENT_FIELDS)),
    "options": Names("route option", Table({"approach_weeks": None, "segments": None}), new=("approach_weeks", "segments")),
    # a new office must also be in a place of the pack (checked in _new_entry)
    "offices": Names("office", Table(dict.fromkeys(OFFICE_FIELDS)),
                     new=tuple(k for k in OFFICE_FIELDS if k not in ("walk_in", "documents_required", "transit_registration"))),
    "resettlement": Table({**dict.fromkeys(RESETTLEMENT_FIELDS), **dict.fromkeys(RESETTLEMENT_OPTIONAL),
                           "fiscal_year_ceilings": OPEN}),
    "parole": Table({**dict.fromkeys(PAROLE_FIELDS), "name": None,
                     "programmes": Names("parole programme", Table(dict.fromkeys(PAROLE_FIELDS)), new=tuple(PAROLE_FIELDS))}),
    "border": Table(dict.fromkeys([*BORDER_FIELDS, *BORDER_OPTIONAL])),
    "mexico": Table({**dict.fromkeys(MEXICO_FIELDS), "geofence_segment": None}),
    "channels": Names("channel", Table({**dict.fromkeys(CHANNEL_FIELDS), "audience": None, "use": OPEN})),
})


def _ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


@contextlib.contextmanager
def row(prefix: str, i: int):
    """The name of table `i` (from 0) of an array of tables ([[group]]) as a reader of the file counts them, from 1
    (`group[5]` is the fifth); an error about it says so, since TOML itself numbers nothing."""
    where = f"{prefix}[{i + 1}]"
    try:
        yield where
    except InputError as e:
        if not e.field.startswith(where) or "counting from 1" in e.message:
            raise
        note = f"{where} is the {_ordinal(i + 1)} [[{prefix.rsplit('.', 1)[-1]}]] table, counting from 1"
        raise InputError(e.file, e.field, f"{e.message} ({note})") from None


def check_keys(file, node, base: dict | None = None, schema=SCHEMA, prefix: str = "", places=()):
    """Stop at the first key of `node` the schema does not know, naming `file`, the dotted key and the
    nearest known keys. `base` is the pack an override applies to (None for a pack's own files): an
    override's names must then be the pack's (see Names); `places` are the pack's places. Shapes and
    values are load_pack's to check."""
    if isinstance(schema, Rows):
        for i, table in enumerate(node if isinstance(node, list) else []):
            with row(prefix, i) as where:
                check_keys(file, table, None, schema.entry, where)
        return
    if not isinstance(node, dict) or not isinstance(schema, (Table, Names)):
        return
    if isinstance(schema, Names):
        for name, entry in node.items():
            where = f"{prefix}.{name}"
            if base is not None and name not in base:
                _new_entry(file, where, schema, name, entry, base, places)
            check_keys(file, entry, base.get(name) if base is not None else None, schema.entry, where)
        return
    for k, v in node.items():
        where = f"{prefix}.{k}" if prefix else str(k)
        if k == "sources" and schema.sources:
            for s in v if isinstance(v, dict) else ():
                if s not in schema.fields:
                    raise InputError(file, f"{where}.{s}", f"a source for an {unknown('field', s, list(schema.fields))}")
            continue
        if k not in schema.fields:
            known = list(schema.fields) + (["sources"] if schema.sources else [])
            raise InputError(file, where, unknown("table" if isinstance(v, dict) else "field", k, known))
        sub = base.get(k) if isinstance(base, dict) else None
        check_keys(file, v, {} if base is not None and sub is None else sub, schema.fields[k], where, places)


def _new_entry(file, where, schema: Names, name, entry, base: dict, places):
    """An override naming an entry the pack lacks: allowed only as a complete new entry (see Names)."""
    msg = f"unknown {schema.what} {name!r}{suggest(name, list(base))} (known: {', '.join(map(str, base)) or 'none'})"
    if schema.new is None:
        raise InputError(file, where, f"{msg}; an override can change what the pack defines but not add a new {schema.what}")
    if schema.what == "office" and name not in places:
        raise InputError(file, where, f"{msg}; a new office must be in a place of the pack, not {name!r}")
    missing = [k for k in schema.new if not (isinstance(entry, dict) and k in entry)]
    if missing:
        raise InputError(file, where, f"{msg}; a new {schema.what} needs every field (missing: {', '.join(missing)})")


def check_overrides(file, overrides: dict, raw: dict):
    """Every key of a pack override (a scenario's `[pack]`, --set pack.*, an experiment's changes) is a key
    of the schema, and every name it uses is one of the pack `raw`'s (or a complete new entry)."""
    places = list(raw["places"]) if isinstance(raw.get("places"), dict) else []
    check_keys(file, overrides, raw, places=places)


def deep_merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


#: the largest input file read: the biggest shipped TOML file is 25 KB, so 16 MiB is over 600 times any
#: real scenario, pack, experiment or checks file, yet small enough to read and parse in a few seconds
#: (tomllib: about 3.5 s for 16 MiB of key = "text" lines on this machine); anything bigger is a mistake
#: (a data dump, a device) that would otherwise be read into memory whole
MAX_INPUT_BYTES = 16 * 2**20


def read_toml(path: Path) -> dict:
    """A TOML file as a table. Only regular files up to MAX_INPUT_BYTES are read: a device such as
    /dev/zero would be read until memory runs out, and a FIFO would block."""
    try:
        st = os.stat(path)
        if stat.S_ISDIR(st.st_mode):
            raise InputError(path, "-", "is a folder, not a TOML file")
        if not stat.S_ISREG(st.st_mode):
            raise InputError(path, "-", "is not a regular file (a device, FIFO or socket): give a TOML file")
        if st.st_size > MAX_INPUT_BYTES:
            raise InputError(path, "-", f"is {st.st_size:,} bytes: larger than the {MAX_INPUT_BYTES // 2**20} MiB an input file may be")
        with open(path, "rb") as f:
            data = f.read(MAX_INPUT_BYTES + 1)  # the file may have grown since os.stat
        if len(data) > MAX_INPUT_BYTES:
            raise InputError(path, "-", f"is larger than the {MAX_INPUT_BYTES // 2**20} MiB an input file may be")
        return tomllib.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise InputError(path, "-", "file not found") from None
    except IsADirectoryError:
        raise InputError(path, "-", "is a folder, not a TOML file") from None
    except UnicodeDecodeError:
        raise InputError(path, "-", "not valid TOML (not UTF-8 text)") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(path, "-", f"not valid TOML ({e})") from None
    except OSError as e:
        raise InputError(path, "-", f"cannot be read ({e.strerror})") from None


def resolve_pack_dir(name_or_path: str, scenario_file: Path) -> Path:
    """A pack is named (a folder under abm/packs) or given as a path (relative to the scenario file)."""
    candidates = [Path(scenario_file).parent / name_or_path, PACKS_DIR / name_or_path, Path(name_or_path)]
    for c in candidates:
        try:
            if c.is_dir():
                return c.resolve()
        except OSError:
            continue
    raise InputError(scenario_file, "run.pack", f"no region pack named or at {name_or_path!r}")


def read_pack_dir(path: Path, files: dict | None = None) -> dict:
    """The pack's files merged into one table; `files` (if given) gets the file of each top-level table."""
    merged: dict = {}
    for f in sorted(path.glob("*.toml")):
        data = read_toml(f)
        check_keys(f, data)
        for k in data:
            if k in merged:
                raise InputError(f, k, "table defined in more than one file of the pack")
            if files is not None:
                files[k] = f
        merged.update(data)
    if not merged:
        raise InputError(path, "-", "pack folder holds no .toml files")
    return merged


@dataclass
class Pack:
    """A validated region pack."""

    path: Path
    raw: dict
    nationalities: list[str]
    places: list[str]
    groups: list[dict]
    segments: dict[str, dict]
    options: dict[str, dict]
    offices: dict[str, dict]
    resettlement: dict
    parole: dict
    border: dict
    place_routes: dict[str, dict[str, float]] = field(default_factory=dict)
    #: legal pathways of the parole kind, in order: `[parole]` first, then `[parole.programmes.*]`
    parole_programmes: dict[str, dict] = field(default_factory=dict)
    #: the optional `[mexico]` table (abm/mexico.py); None: travellers reach the border at their route's end
    mexico: dict | None = None
    #: information channels (channels.toml), by name; none if the pack has no channels.toml
    channels: dict[str, dict] = field(default_factory=dict)

    def nat_index(self, name: str) -> int:
        return self.nationalities.index(name)

    def place_index(self, name: str) -> int:
        return self.places.index(name)

    @property
    def labels(self) -> dict[str, str]:
        """The pack's names for its crossing, office (one), offices and pathway (meta), else LABELS' words."""
        meta = self.raw.get("meta", {})
        return {k: str(meta.get(k, default)) for k, default in LABELS.items()}


def label_words(labels: dict | None = None) -> dict[str, str]:
    """A pack's labels (Pack.labels; missing ones in LABELS' words) as format keys, each also capitalised to start a
    label or sentence ({Office}: "SMO" stays "SMO", "transit-centre office" becomes "Transit-centre office")."""
    full = {**LABELS, **(labels or {})}
    return {**full, **{k[0].upper() + k[1:]: v[0].upper() + v[1:] for k, v in full.items()}}


def _check_value(where, fieldname, value, spec):
    kind = spec[0]
    if kind == "bool":
        if not isinstance(value, bool):
            raise InputError(*where, f"{fieldname} must be true or false, not {value!r}")
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(*where, f"{fieldname} must be a number, not {value!r}")
    if not math.isfinite(value):
        raise InputError(*where, f"{fieldname} must be a finite number, not {value!r}")
    if kind == "int" and int(value) != value:
        raise InputError(*where, f"{fieldname} must be a whole number, not {value!r}")
    lo, hi = spec[1], spec[2]
    if not (lo <= value <= hi):
        raise InputError(*where, f"{fieldname}={value!r} is outside [{lo}, {hi}]")


def _check_table(file, prefix: str, table: dict, spec: dict, required=True, sources_from: dict | None = None):
    if not isinstance(table, dict):
        raise InputError(file, prefix, "must be a table")
    own = table.get("sources", {})
    if not isinstance(own, dict):
        raise InputError(file, f"{prefix}.sources", "must be a table of field = source")
    sources = dict(sources_from or {})
    sources.update(own)
    for k, v in table.items():
        if k == "sources":
            continue
        if k not in spec:
            continue  # names and lists are checked by the caller
        _check_value((file, f"{prefix}.{k}"), k, v, spec[k])
    if required:
        for k in spec:
            if k not in table:
                raise InputError(file, f"{prefix}.{k}", "missing")
    for k in table:
        if k != "sources" and k in spec and spec[k][0] != "bool" and k not in sources:
            raise InputError(file, f"{prefix}.sources.{k}", "every figure must name its source (a seed section, or 'assumption')")


def _arrivals_by_year(file, where, g: dict, sources: dict) -> dict[int, float]:
    """A group's optional `arrivals_by_year` table: calendar year -> people arriving in it (issue 16)."""
    table = g.get("arrivals_by_year", {})
    if not isinstance(table, dict):
        raise InputError(file, f"{where}.arrivals_by_year", "must be a table of year = people arriving that year")
    out = {}
    for y, v in table.items():
        if not str(y).isdigit() or not 1900 <= int(y) <= 2200:
            raise InputError(file, f"{where}.arrivals_by_year", f"{y!r} is not a year")
        _check_value((file, f"{where}.arrivals_by_year.{y}"), y, v, ("num", 0, 1e8))
        out[int(y)] = float(v)
    if out and "arrivals_by_year" not in {**sources, **g.get("sources", {})}:
        raise InputError(file, f"{where}.sources.arrivals_by_year", "every figure must name its source (a seed section, or 'assumption')")
    return out


def _require_tables(file, key, table):
    if not isinstance(table, dict):
        raise InputError(file, key, "must be a table")
    for name, t in table.items():
        if not isinstance(t, dict):
            raise InputError(file, f"{key}.{name}", "must be a table")


def _check_routes(f, where: str, routes, options: dict):
    """A table of route option = share: options of the pack, shares adding up to 1."""
    if not isinstance(routes, dict) or not routes:
        raise InputError(f, where, "must be a table of route option = share")
    for r, share in routes.items():
        if r not in options:
            raise InputError(f, where, f"unknown route option {r!r}")
        _check_value((f, where), r, share, ("share", 0, 1))
    if abs(sum(routes.values()) - 1.0) > 1e-6:
        raise InputError(f, where, "route shares must add up to 1")


def _group(f, where: str, g: dict, raw: dict, defaults: dict, seen: set, place_routes: dict, options: dict) -> dict:
    """One [[group]] with the defaults filled in, checked (`where` names it in errors)."""
    nationalities, places = list(raw["nationalities"]), list(raw["places"])
    dsources = defaults.get("sources", {})
    nat, place = g.get("nationality"), g.get("place")
    if nat not in nationalities:
        raise InputError(f, f"{where}.nationality", f"unknown nationality {nat!r} (known: {', '.join(nationalities)})")
    if place not in places:
        raise InputError(f, f"{where}.place", f"unknown place {place!r} (known: {', '.join(places)})")
    if (nat, place) in seen:
        raise InputError(f, where, f"{nat} in {place} defined twice")
    seen.add((nat, place))
    full = {k: v for k, v in defaults.items() if k != "sources"}
    full.update(g)
    own_sources = {k: v for k, v in dsources.items() if k not in g}
    _check_table(f, where, full, GROUP_FIELDS, sources_from=own_sources)
    _check_table(f, where, full, GROUP_OPTIONAL, required=False)
    full["arrive_travelling"] = full.get("arrive_travelling", False)
    full["arrivals_by_year"] = _arrivals_by_year(f, where, g, own_sources)
    if full["regular"] + full["regularising"] > 1 + 1e-9:
        raise InputError(f, f"{where}.regularising", "regular + regularising shares exceed 1")
    if "routes" in g:
        _check_routes(f, f"{where}.routes", g["routes"], options)
    else:
        full["routes"] = place_routes[place]
    full["at_home"] = raw["nationalities"][nat].get("home") == place
    return full


def load_pack(path: Path, overrides: dict | None = None, origin: Path | None = None) -> Pack:
    """Read, merge overrides into, and validate the pack at `path`. `origin` is the file to blame for overrides."""
    files: dict = {}
    raw = read_pack_dir(path, files)
    if overrides:
        check_overrides(origin if origin is not None else path, overrides, raw)
        raw = deep_merge(raw, overrides)

    def F(key):
        """The file to name in an error about table `key`: the scenario if it overrides it, else the pack file."""
        return origin if overrides and key in overrides and origin is not None else files.get(key, path)

    for key in ("places", "nationalities", "group", "segments", "options", "offices", "resettlement", "parole", "border"):
        if key not in raw:
            raise InputError(path, key, "missing from the pack")

    for key in ("places", "nationalities", "segments", "options", "offices"):
        _require_tables(F(key), key, raw[key])
    for key in ("resettlement", "parole", "border"):
        if not isinstance(raw[key], dict):
            raise InputError(F(key), key, "must be a table")
    meta = raw.get("meta", {})
    if not isinstance(meta, dict):
        raise InputError(F("meta"), "meta", "must be a table")
    for k, v in meta.items():
        if not isinstance(v, str):  # every meta field is a name, a label or a file name
            raise InputError(F("meta"), f"meta.{k}", f"must be text, not {v!r}")
        if k in LABELS and not v.strip():  # a label names outputs in tables, findings and figures
            raise InputError(F("meta"), f"meta.{k}", "must not be empty: it names outputs in reports and figures")
        if k in META_FILES and (v != Path(v).name or v in ("", ".", "..") or not CALIBRATION_DIR.joinpath(v).is_file()):
            # read after the simulation (targets, checks) or by name (the posterior): a bad one must stop now
            raise InputError(F("meta"), f"meta.{k}", f"{v!r} is not a file in calibration/ (a plain file name)")
    if not isinstance(raw["group"], list) or not all(isinstance(g, dict) for g in raw["group"]):
        raise InputError(F("group"), "group", "must be an array of tables ([[group]])")
    for n, t in raw["nationalities"].items():
        # a home need not be a place of the pack (Haitians in the Americas pack live only abroad)
        if not isinstance(t.get("home"), str):
            raise InputError(F("nationalities"), f"nationalities.{n}.home", "missing: the name of the nationality's home country")
    nationalities = list(raw["nationalities"].keys())
    places = list(raw["places"].keys())

    segments = {}
    for name, seg in raw["segments"].items():
        _check_table(F("segments"), f"segments.{name}", seg, SEGMENT_FIELDS)
        _check_table(F("segments"), f"segments.{name}", seg, SEGMENT_OPTIONAL, required=False)
        if "passes" in seg and seg["passes"] not in raw["places"]:
            raise InputError(F("segments"), f"segments.{name}.passes",
                             f"unknown place {seg['passes']!r} (known: {', '.join(raw['places'])})")
        segments[name] = seg
    if not any(seg.get("darien") for seg in segments.values()):
        # the crossing a pack reports on (meta `crossings`) is counted at these segments: without one every
        # run would report 0 crossings
        raise InputError(F("segments"), "segments", "no segment is flagged darien = true, so no crossing would be "
                         "counted: flag the crossing the pack reports on (meta crossings)")
    options = {}
    for name, opt in raw["options"].items():
        if not isinstance(opt.get("segments"), list) or not opt["segments"]:
            raise InputError(F("options"), f"options.{name}.segments", "a route option needs a list of at least one segment")
        for s in opt["segments"]:
            if s not in segments:
                raise InputError(F("options"), f"options.{name}.segments", f"unknown segment {s!r}")
        _check_table(F("options"), f"options.{name}", opt, {"approach_weeks": ("int", 0, 52)})
        options[name] = opt

    place_routes = {}
    for name, pl in raw["places"].items():
        _check_routes(F("places"), f"places.{name}.routes", pl.get("routes"), options)
        place_routes[name] = pl["routes"]

    defaults = raw.get("defaults", {})
    groups = []
    seen = set()
    f = F("defaults") if overrides and "defaults" in overrides and origin is not None else F("group")
    for i, g in enumerate(raw["group"]):
        with row("group", i) as where:
            groups.append(_group(f, where, g, raw, defaults, seen, place_routes, options))
    if not any(g["stock"] > 0 or g["arrivals_per_week"] > 0 or any(g["arrivals_by_year"].values()) for g in groups):
        # else the run has no agents, which the model would blame on run.scale
        raise InputError(f, "group", "the pack has no people: no [[group]] has a stock or arrivals_per_week above 0"
                         if groups else "the pack has no people: it defines no [[group]]")

    offices = {}
    for name, off in raw["offices"].items():
        if name not in places:
            raise InputError(F("offices"), f"offices.{name}", f"an office must be in a place of the pack, not {name!r}")
        off = {"walk_in": False, "documents_required": False, "transit_registration": False, **off}
        _check_table(F("offices"), f"offices.{name}", off, OFFICE_FIELDS)
        offices[name] = off
    _check_table(F("resettlement"), "resettlement", raw["resettlement"], RESETTLEMENT_FIELDS)
    _check_table(F("resettlement"), "resettlement", raw["resettlement"], RESETTLEMENT_OPTIONAL, required=False)
    ceil = raw["resettlement"].get("fiscal_year_ceilings", {})
    if not isinstance(ceil, dict) or not ceil:
        raise InputError(F("resettlement"), "resettlement.fiscal_year_ceilings", "must be a table of fiscal year = ceiling")
    for fy, v in ceil.items():
        if not str(fy).isdigit():
            raise InputError(F("resettlement"), "resettlement.fiscal_year_ceilings", f"{fy!r} is not a year")
        _check_value((F("resettlement"), f"resettlement.fiscal_year_ceilings.{fy}"), fy, v, ("num", 0, 1e7))
    _check_table(F("parole"), "parole", raw["parole"], PAROLE_FIELDS)
    first = raw["parole"].get("name", "parole")
    if not isinstance(first, str):
        raise InputError(F("parole"), "parole.name", "must be the programme's name")
    programmes = {first: raw["parole"]}
    more = raw["parole"].get("programmes", {})
    _require_tables(F("parole"), "parole.programmes", more)
    for name, cfg in more.items():
        if name in programmes:
            raise InputError(F("parole"), f"parole.programmes.{name}", "two programmes have this name")
        _check_table(F("parole"), f"parole.programmes.{name}", cfg, PAROLE_FIELDS)
        programmes[name] = cfg
    _check_table(F("border"), "border", raw["border"], BORDER_FIELDS)
    mexico = raw.get("mexico")
    if mexico is not None:
        _check_table(F("mexico"), "mexico", mexico, MEXICO_FIELDS)
        if mexico.get("geofence_segment") not in segments:
            raise InputError(F("mexico"), "mexico.geofence_segment",
                             f"unknown segment {mexico.get('geofence_segment')!r} (known: {', '.join(segments)})")
    _check_table(F("border"), "border", raw["border"], BORDER_OPTIONAL, required=False)
    channels = _check_channels(F("channels"), raw.get("channels", {}), nationalities)

    return Pack(path=path, raw=raw, nationalities=nationalities, places=places, groups=groups,
                segments=segments, options=options, offices=offices, resettlement=raw["resettlement"],
                parole=raw["parole"], border=raw["border"], place_routes=place_routes,
                parole_programmes=programmes, mexico=mexico, channels=channels)


def _check_channels(file, table, nationalities) -> dict:
    """channels.toml: each channel one of CHANNELS, with its audience, live weeks, accuracy, whether it
    needs internet and teaches the rules, and its use by nationality (relative to 1; a nationality not
    listed uses it at 1). Every figure names its source."""
    _require_tables(file, "channels", table)
    out = {}
    for name, ch in table.items():
        where = f"channels.{name}"
        if name not in CHANNELS:
            raise InputError(file, where, unknown("channel", name, list(CHANNELS)))
        _check_table(file, where, ch, CHANNEL_FIELDS)
        if ch.get("audience") not in AUDIENCES:
            raise InputError(file, f"{where}.audience", f"must be one of {', '.join(AUDIENCES)}, not {ch.get('audience')!r}")
        use = ch.get("use", {})
        if not isinstance(use, dict):
            raise InputError(file, f"{where}.use", "must be a table of nationality = relative use")
        for n, v in use.items():
            if n not in nationalities:
                raise InputError(file, f"{where}.use", unknown("nationality", n, nationalities))
            _check_value((file, f"{where}.use.{n}"), n, v, ("num", 0, 100))
        if use and "use" not in ch.get("sources", {}):
            raise InputError(file, f"{where}.sources.use", "every figure must name its source (a seed section, or 'assumption')")
        out[name] = {**ch, "use": dict(use)}
    return out
