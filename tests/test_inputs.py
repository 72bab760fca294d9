"""Bad input is rejected cleanly: exit status 2, one line on stderr starting "error: " that names the
file and the field, no traceback, and nothing written (README, "Running scenarios").

Each case is a small scenario written into tmp_path (most extend experiments/baseline.toml and add one
bad thing), run through the command line as a user would.
"""
from __future__ import annotations

import contextlib
import io
import shutil
import tomllib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from abm.cli import main
from abm.errors import InputError
from abm.pack import PACKS_DIR
from abm.scenario import CLI, Scenario
from calibration.posterior import load_run
from tests.conftest import BASELINE, TESTLAND

with open(BASELINE, "rb") as _f:
    N = len(tomllib.load(_f)["policy"])  # index of the first [[policy]] a child scenario appends

HEAD = f"extends = '{BASELINE}'\n"
TESTLAND_HEAD = f"extends = '{TESTLAND}'\n"
SRC = "'assumption: invented for the test'"


def policy(**fields) -> str:
    lines = ["[[policy]]"]
    for k, v in fields.items():
        lines.append(f"{k} = {v}")
    return "\n".join(lines) + "\n"


def snapshot(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def run_cli(tmp_path, capsys, scenario, *extra):
    """Run `smo-abm run` into tmp_path/out; return (status, stderr lines, stdout)."""
    out = tmp_path / "out"
    rc = main(["run", str(scenario), "--out", str(out), "--quiet", "--no-figures", *extra])
    cap = capsys.readouterr()
    return rc, cap.err.splitlines(), cap.out


def assert_rejected(tmp_path, capsys, scenario, extra, file, field, words=""):
    before = snapshot(tmp_path)
    rc, err, out = run_cli(tmp_path, capsys, scenario, *extra)
    text = "\n".join(err)
    assert "Traceback" not in text
    assert rc == 2, text
    assert len(err) == 1, text
    line = err[0]
    assert line.startswith("error: "), line
    assert f"{file}: " in line, f"{line!r} does not name the file {file}"
    assert f": {field}: " in line, f"{line!r} does not name the field {field}"
    if words:
        assert words in line, line
    # nothing written: no output folder, no temporary folder, nothing else new
    assert not (tmp_path / "out").exists()
    assert snapshot(tmp_path) == before
    assert out == ""


# (id, scenario text, extra command-line arguments, file named ("scenario", "cli" for --set, "flag" for
# another option: "command line"), field, words)
CASES = [
    ("malformed_toml", "[run\nname = 'x'\n", [], "scenario", "-", "not valid TOML"),
    ("missing_file", None, [], "scenario", "-", "file not found"),
    ("unknown_section", HEAD + "[bogus]\nx = 1\n", [], "scenario", "bogus", "unknown section"),
    ("unknown_top_level_key", HEAD + "seed = 3\n", [], "scenario", "seed", "unknown section"),
    ("missing_run", "description = 'no run'\n", [], "scenario", "run", "missing [run]"),
    ("missing_pack", "[run]\nstart = 2022-01-01\nend = 2023-01-01\n", [], "scenario", "run.pack", "missing"),
    ("unknown_run_field", HEAD + "[run]\nweeks = 10\n", [], "scenario", "run.weeks", "unknown field"),
    ("extends_missing", "extends = 'nowhere.toml'\n[run]\nname = 'x'\n", [], "scenario", "extends", "no scenario file"),
    ("extends_not_a_path", "extends = 3\n", [], "scenario", "extends", "must be the path"),
    # the policy timeline
    ("unknown_nationality", HEAD + policy(date="2023-07-01", kind="'smo_open'", office="'Colombia'",
                                          nationalities="['Atlantis']"),
     [], "scenario", f"policy[{N}].nationalities", "unknown nationality 'Atlantis'"),
    ("unknown_nationality_first", HEAD + "replace_policies = true\n"
     + policy(date="2023-01-05", kind="'parole_open'", nationalities="['Venezuela', 'Narnia']", monthly_cap=100),
     [], "scenario", "policy[0].nationalities", "unknown nationality 'Narnia'"),
    ("nationalities_not_a_list", HEAD + policy(date="2023-07-01", kind="'border_expel'", nationalities="'Cuba'"),
     [], "scenario", f"policy[{N}].nationalities", "must be a list"),
    ("policy_far_future", HEAD + policy(date="2205-06-01", kind="'announce'", topic="'smo'"),
     [], "scenario", f"policy[{N}].date", "out of range"),
    ("policy_not_a_date", HEAD + policy(date="'soon'", kind="'title42_end'"),
     [], "scenario", f"policy[{N}].date", "not a date"),
    ("policy_without_date", HEAD + policy(kind="'title42_end'"), [], "scenario", f"policy[{N}].date", "not a date"),
    ("policy_long_ago", HEAD + policy(date="1900-01-01", kind="'title42_end'"),
     [], "scenario", f"policy[{N}].date", "out of range"),
    ("unknown_policy_kind", HEAD + policy(date="2023-07-01", kind="'smo_teleport'"),
     [], "scenario", f"policy[{N}].kind", "unknown policy kind 'smo_teleport'"),
    ("policy_without_kind", HEAD + policy(date="2023-07-01"), [], "scenario", f"policy[{N}].kind", "unknown policy kind"),
    ("missing_policy_field", HEAD + policy(date="2023-07-01", kind="'parole_open'", nationalities="['Cuba']"),
     [], "scenario", f"policy[{N}].monthly_cap", "missing"),
    ("policy_field_of_another_kind", HEAD + policy(date="2023-07-01", kind="'title42_end'", office="'Colombia'"),
     [], "scenario", f"policy[{N}].office", "not a field of a title42_end policy"),
    ("unknown_office", HEAD + policy(date="2023-07-01", kind="'smo_open'", office="'Atlantis'",
                                     nationalities="['Cuba']"),
     [], "scenario", f"policy[{N}].office", "unknown office 'Atlantis'"),
    ("unknown_topic", HEAD + policy(date="2023-07-01", kind="'announce'", topic="'weather'"),
     [], "scenario", f"policy[{N}].topic", "unknown topic"),
    ("policy_weeks_out_of_range", HEAD + policy(date="2023-07-01", kind="'outreach'", weeks=0),
     [], "scenario", f"policy[{N}].weeks", "outside [1, 520]"),
    ("announce_has_no_reach", HEAD + policy(date="2023-07-01", kind="'announce'", topic="'smo'", reach=0.5),
     [], "scenario", f"policy[{N}].reach", "not a field of a announce policy"),
    ("unknown_channel", HEAD + policy(date="2023-07-01", kind="'announce'", topic="'smo'", channels="['radio']"),
     [], "scenario", f"policy[{N}].channels", "unknown channel 'radio'"),
    ("policy_wrong_type", HEAD + policy(date="2023-07-01", kind="'parole_set'", monthly_cap="'lots'"),
     [], "scenario", f"policy[{N}].monthly_cap", "must be a number"),
    ("policy_bool_not_number", HEAD + policy(date="2023-07-01", kind="'smo_set'", office="'Colombia'",
                                             walk_in=1),
     [], "scenario", f"policy[{N}].walk_in", "true or false"),
    # run dates, scale, seed
    ("end_before_start", HEAD + "[run]\nend = '2021-12-31'\n", [], "scenario", "run.end", "not after run.start"),
    ("end_equals_start", HEAD + "[run]\nend = '2022-07-01'\n", [], "scenario", "run.end", "not after run.start"),
    ("start_not_a_date", HEAD + "[run]\nstart = 'last spring'\n", [], "scenario", "run.start", "not a date"),
    ("end_impossible_date", HEAD + "[run]\nend = '2024-02-30'\n", [], "scenario", "run.end", "not a date"),
    ("start_a_datetime", HEAD + "[run]\nstart = 2022-07-01T10:00:00\n", [], "scenario", "run.start", "not a date"),
    ("run_too_long", HEAD + "[run]\nend = '2099-01-01'\n", [], "scenario", "run.end", "longer than 30 years"),
    ("scale_0", HEAD + "[run]\nscale = 0\n", [], "scenario", "run.scale", "(0, 1]"),
    ("scale_2", HEAD + "[run]\nscale = 2\n", [], "scenario", "run.scale", "(0, 1]"),
    ("scale_text", HEAD + "[run]\nscale = 'tiny'\n", [], "scenario", "run.scale", "(0, 1]"),
    ("scale_bool", HEAD + "[run]\nscale = true\n", [], "scenario", "run.scale", "(0, 1]"),
    ("cli_scale_0", HEAD, ["--scale", "0"], "flag", "--scale", "(0, 1]"),
    ("cli_scale_2", HEAD, ["--scale", "2"], "flag", "--scale", "(0, 1]"),
    ("cli_scale_negative", HEAD, ["--scale=-0.5"], "flag", "--scale", "(0, 1]"),
    ("seed_text", HEAD + "[run]\nseed = 'one'\n", [], "scenario", "run.seed", "non-negative whole number"),
    ("seed_negative", HEAD, ["--seed=-3"], "flag", "--seed", "non-negative whole number"),
    ("spinup_too_long", HEAD + "[run]\nspinup_weeks = 1000\n", [], "scenario", "run.spinup_weeks", "[0, 520]"),
    ("pack_not_a_string", HEAD + "[run]\npack = 3\n", [], "scenario", "run.pack", "pack name or path"),
    # behaviour, information, network parameters
    ("unknown_behaviour_param", HEAD + "[behaviour]\npatience_of_job = 3\n",
     [], "scenario", "behaviour.patience_of_job", "unknown parameter"),
    ("param_above_bound", HEAD + "[behaviour]\nwait_cost = 50\n", [], "scenario", "behaviour.wait_cost", "outside [0.0, 20.0]"),
    ("param_below_bound", HEAD + "[information]\nwom_awareness = -0.1\n",
     [], "scenario", "information.wom_awareness", "outside"),
    ("param_nan", HEAD + "[network]\ndegree = nan\n", [], "scenario", "network.degree", "outside"),
    ("param_wrong_type", HEAD + "[behaviour]\nwait_cost = 'high'\n", [], "scenario", "behaviour.wait_cost", "must be a number"),
    ("param_bool", HEAD + "[behaviour]\nwait_cost = true\n", [], "scenario", "behaviour.wait_cost", "must be a number"),
    ("section_not_a_table", HEAD + "behaviour = 3\n", [], "scenario", "behaviour", "must be a table"),
    # --set
    ("set_without_equals", HEAD, ["--set", "behaviour.wait_cost"], "cli", "behaviour.wait_cost", "expected key=value"),
    ("set_empty_key", HEAD, ["--set", "=3"], "cli", "=3", "empty key"),
    ("set_unknown_section", HEAD, ["--set", "bogus.x=1"], "cli", "bogus.x", "unknown section 'bogus'"),
    ("set_policy", HEAD, ["--set", "policy.kind=x"], "cli", "policy.kind", "unknown section 'policy'"),
    ("set_into_a_value", HEAD, ["--set", "run.start.day=3"], "cli", "run.start.day", "not a table"),
    ("set_unknown_param", HEAD, ["--set", "behaviour.bogus=1"], "cli", "behaviour.bogus", "unknown parameter"),
    ("set_unknown_run_field", HEAD, ["--set", "run.weeks=3"], "cli", "run.weeks", "unknown field"),
    ("set_param_out_of_bounds", HEAD, ["--set", "behaviour.wait_cost=-1"], "cli", "behaviour.wait_cost", "outside"),
    ("set_param_wrong_type", HEAD, ["--set", "behaviour.wait_cost=high"], "cli", "behaviour.wait_cost", "must be a number"),
    ("set_unknown_office", HEAD, ["--set", "pack.offices.Atlantis.weekly_quota=5"],
     "cli", "pack.offices.Atlantis", "must be in a place of the pack"),
    ("set_pack_share_above_1", HEAD, ["--set", "pack.parole.p_denied=1.2"], "cli", "pack.parole.p_denied", "outside [0, 1]"),
    # [pack] overrides of the region pack
    ("pack_share_above_1", HEAD + "[pack.segments.darien]\np_death = 1.5\n",
     [], "scenario", "pack.segments.darien.p_death", "outside [0, 1]"),
    ("pack_negative", HEAD + "[pack.offices.Colombia]\nweekly_quota = -5\n",
     [], "scenario", "pack.offices.Colombia.weekly_quota", "outside"),
    ("pack_not_whole", HEAD + "[pack.segments.darien]\nweeks = 1.5\n",
     [], "scenario", "pack.segments.darien.weeks", "whole number"),
    ("pack_wrong_type", HEAD + "[pack.border]\np_remove = 'some'\n", [], "scenario", "pack.border.p_remove", "must be a number"),
    ("pack_removes_sources", HEAD + "[pack.segments.darien]\nsources = []\n",
     [], "scenario", "pack.segments.darien.sources", "must be a table"),
    ("pack_figure_without_source", HEAD + "[pack.segments.teleport]\nweeks = 1\ncost_usd = 1\n"
     "smuggler_fee_usd = 1\np_death = 0\np_injury = 0\np_robbery = 0\n",
     [], "scenario", "pack.segments.teleport.sources.weeks", "must name its source"),
    ("pack_route_shares", HEAD + "[pack.places.Colombia]\nroutes = { darien = 0.5 }\n",
     [], "scenario", "pack.places.Colombia.routes", "add up to 1"),
    ("pack_unknown_route", HEAD + "[pack.places.Cuba]\nroutes = { air_nicaragua = 0.5, teleport = 0.5 }\n",
     [], "scenario", "pack.places.Cuba.routes", "unknown route option 'teleport'"),
    ("pack_unknown_segment", HEAD + "[pack.options.darien]\nsegments = ['darien', 'wormhole']\n",
     [], "scenario", "pack.options.darien.segments", "unknown segment 'wormhole'"),
    ("pack_office_not_a_place", HEAD + "[pack.offices.Panama]\nweekly_quota = 1\nassess_per_week = 1\n"
     "presence_cutoff = true\nregular_status_required = true\nhost_nationals_eligible = false\n"
     f"sources = {{ weekly_quota = {SRC}, assess_per_week = {SRC} }}\n",
     [], "scenario", "pack.offices.Panama", "must be in a place of the pack"),
    ("pack_ceiling_not_a_year", HEAD + "[pack.resettlement.fiscal_year_ceilings]\nnext = 5\n",
     [], "scenario", "pack.resettlement.fiscal_year_ceilings", "not a year"),
    ("pack_group_stock", TESTLAND_HEAD + "".join(
        f"[[pack.group]]\nnationality = '{n}'\nplace = '{pl}'\nstock = {s}\npush = -5.0\n"
        f"sources = {{ stock = {SRC}, push = {SRC} }}\n"
        for n, pl, s in [("Aria", "Aria", 1000), ("Borea", "Borea", 1000), ("Aria", "Centra", -5)]),
     [], "scenario", "pack.group[3].stock", "the 3rd [[group]] table, counting from 1"),
    ("pack_group_unknown_place", TESTLAND_HEAD + "[[pack.group]]\nnationality = 'Aria'\nplace = 'Atlantis'\n"
     f"stock = 10\npush = -5.0\nsources = {{ stock = {SRC}, push = {SRC} }}\n",
     [], "scenario", "pack.group[1].place", "unknown place 'Atlantis'"),
    ("pack_group_twice", TESTLAND_HEAD + 2 * ("[[pack.group]]\nnationality = 'Aria'\nplace = 'Aria'\n"
                                              f"stock = 10\npush = -5.0\nsources = {{ stock = {SRC}, push = {SRC} }}\n"),
     [], "scenario", "pack.group[2]", "defined twice"),
    ("pack_regular_shares", TESTLAND_HEAD + "[pack.defaults]\nregularising = 0.5\n",
     [], "scenario", "pack.group[1].regularising", "exceed 1"),
]


def _write(tmp_path, text):
    path = tmp_path / "bad.toml"
    if text is not None:
        path.write_text(text)
    return path


@pytest.mark.parametrize("text,extra,file,field,words", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_rejected_cleanly(tmp_path, capsys, text, extra, file, field, words):
    path = _write(tmp_path, text)
    named = {"cli": CLI, "flag": "command line"}.get(file, str(path))
    assert_rejected(tmp_path, capsys, path, extra, named, field, words)


def test_unknown_pack_name_is_rejected(tmp_path, capsys):
    path = _write(tmp_path, HEAD + "[run]\npack = 'atlantis'\n")
    rc, err, _ = run_cli(tmp_path, capsys, path)
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: ")
    assert ": run.pack: " in err[0] and "'atlantis'" in err[0]
    assert not (tmp_path / "out").exists()


def test_unknown_pack_name_names_the_scenario_file(tmp_path, capsys):
    path = _write(tmp_path, HEAD + "[run]\npack = 'atlantis'\n")
    assert_rejected(tmp_path, capsys, path, [], str(path), "run.pack", "'atlantis'")


def _bad_pack(tmp_path, edit):
    pack = tmp_path / "badpack"
    shutil.copytree(PACKS_DIR / "testland", pack)
    edit(pack)
    return pack


def test_bad_pack_folder_is_rejected_naming_the_pack_and_field(tmp_path, capsys):
    def edit(pack):
        f = pack / "populations.toml"
        text = f.read_text()
        third = text.index("[[group]]", text.index("[[group]]", text.index("[[group]]") + 1) + 1)
        f.write_text(text[:third] + text[third:].replace("stock = 80000", "stock = -80000", 1))

    pack = _bad_pack(tmp_path, edit)
    path = _write(tmp_path, TESTLAND_HEAD + f"[run]\npack = '{pack}'\n")
    # errors in the pack's own files name the pack file that holds the table (no scenario override to blame)
    assert_rejected(tmp_path, capsys, path, [], str(pack / "populations.toml"), "group[3].stock", "outside")


@pytest.mark.parametrize("file,table,field,drop", [
    ("institutions.toml", "[offices.Centra]", "offices.Centra.presence_cutoff", "presence_cutoff"),
    ("institutions.toml", "[parole]", "parole.requires_sponsor", "requires_sponsor"),
    ("routes.toml", "[segments.jungle]", "segments.jungle.weeks", "weeks"),
])
def test_pack_missing_a_field_names_the_file_and_field(tmp_path, capsys, file, table, field, drop):
    def edit(pack):
        f = pack / file
        text = f.read_text()
        at = text.index(table)
        line_start = text.index(f"\n{drop} =", at) + 1
        line_end = text.index("\n", line_start)
        f.write_text(text[:line_start] + text[line_end + 1:])

    pack = _bad_pack(tmp_path, edit)
    path = _write(tmp_path, TESTLAND_HEAD + f"[run]\npack = '{pack}'\n")
    assert_rejected(tmp_path, capsys, path, [], str(pack / file), field, "missing")


def test_pack_folder_missing_a_table_is_rejected(tmp_path, capsys):
    pack = _bad_pack(tmp_path, lambda p: (p / "institutions.toml").unlink())
    path = _write(tmp_path, TESTLAND_HEAD + f"[run]\npack = '{pack}'\n")
    assert_rejected(tmp_path, capsys, path, [], str(pack), "offices", "missing from the pack")


def test_pack_table_in_two_files_is_rejected(tmp_path, capsys):
    pack = _bad_pack(tmp_path, lambda p: (p / "extra.toml").write_text("[border]\np_remove = 0.1\n"))
    path = _write(tmp_path, TESTLAND_HEAD + f"[run]\npack = '{pack}'\n")
    assert_rejected(tmp_path, capsys, path, [], str(pack / "institutions.toml"), "border", "more than one file")


def test_extends_loop_is_rejected(tmp_path, capsys):
    a, b = tmp_path / "a.toml", tmp_path / "b.toml"
    a.write_text("extends = 'b.toml'\n")
    b.write_text("extends = 'a.toml'\n")
    assert_rejected(tmp_path, capsys, a, [], "", "extends", "loop")


def test_error_in_a_later_policy_is_found_after_a_good_one(tmp_path, capsys):
    text = HEAD + policy(date="2023-07-01", kind="'outreach'", weeks=10) + policy(
        date="2023-08-01", kind="'smo_close'", office="'Narnia'")
    assert_rejected(tmp_path, capsys, _write(tmp_path, text), [], str(tmp_path / "bad.toml"),
                    f"policy[{N + 1}].office", "unknown office 'Narnia'")


# --- Inputs of the wrong shape or kind, which once crashed with a traceback ---

CRASHES = [
    ("not_utf8", b"\xff\xfe[run]\n", [], UnicodeDecodeError, "tomllib raises UnicodeDecodeError (not TOMLDecodeError); abm/pack.py read_toml() only catches FileNotFoundError and TOMLDecodeError"),
    ("pack_sources_a_string", (HEAD + "[pack.segments.darien]\nsources = 'none'\n").encode(), [], ValueError,
     "abm/pack.py _check_table(): sources.update('none') raises ValueError when `sources` is not a table"),
    ("office_a_list", (HEAD + policy(date="2023-07-01", kind="'smo_open'", office="['Colombia']",
                                     nationalities="['Cuba']")).encode(), [], TypeError,
     "abm/policy.py check_policies(): `v not in pack.offices` raises TypeError (unhashable list)"),
    ("kind_a_list", (HEAD + policy(date="2023-07-01", kind="['smo_open']")).encode(), [], TypeError,
     "abm/policy.py check_policies(): `kind not in KINDS` raises TypeError (unhashable list)"),
    ("policy_not_an_array", (HEAD + "policy = 3\n").encode(), [], TypeError,
     "abm/scenario.py _read_with_extends(): base policies + child `policy = 3` raises TypeError"),
    ("pack_place_a_number", (HEAD + "[pack.places]\nColombia = 3\n").encode(), [], AttributeError,
     "abm/pack.py load_pack(): pl.get('routes') raises AttributeError when a place is not a table"),
    ("set_pack_office_a_number", HEAD.encode(), ["--set", "pack.offices.Colombia=5000"], TypeError,
     "abm/pack.py load_pack(): {**off} raises TypeError when an office is not a table "
     "(e.g. --set pack.offices.Colombia=5000, forgetting .weekly_quota)"),
    ("pack_whole_number_nan", (HEAD + "[pack.segments.darien]\nweeks = nan\n").encode(), [], ValueError,
     "abm/pack.py _check_value(): `int(value) != value` raises ValueError for nan in a whole-number field"),
    ("set_pack_whole_number_inf", HEAD.encode(), ["--set", "pack.resettlement.decision_weeks=inf"], OverflowError,
     "abm/pack.py _check_value(): `int(value) != value` raises OverflowError for inf in a whole-number field"),
    ("policy_whole_number_nan", (HEAD + policy(date="2023-07-01", kind="'resettlement_set'",
                                               decision_weeks="nan")).encode(), [], ValueError,
     "abm/pack.py _check_value() (called by abm/policy.py check_policies()): int(nan) raises ValueError"),
    ("set_pack_name_too_long", HEAD.encode(), ["--set", "run.pack=" + "a" * 300], OSError,
     "abm/pack.py resolve_pack_dir(): Path.is_dir() raises OSError ENAMETOOLONG"),
]


@pytest.mark.parametrize("content,extra", [pytest.param(c[1], c[2], id=c[0]) for c in CRASHES])
def test_inputs_that_crash_today_are_rejected_cleanly(tmp_path, capsys, content, extra):
    path = tmp_path / "bad.toml"
    path.write_bytes(content)
    before = snapshot(tmp_path)
    rc, err, _ = run_cli(tmp_path, capsys, path, *extra)
    assert rc == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert (str(path) in err[0]) if not extra else (CLI in err[0]), err[0]
    assert snapshot(tmp_path) == before


def test_scenario_that_is_a_folder_is_rejected_cleanly(tmp_path, capsys):
    folder = tmp_path / "scenarios"
    folder.mkdir()
    assert_rejected(tmp_path, capsys, folder, [], str(folder), "-")


def test_scale_too_small_for_any_agent_is_handled(tmp_path, capsys):
    path = _write(tmp_path, HEAD)
    rc, err, _ = run_cli(tmp_path, capsys, path, "--scale", "1e-9")
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("error: ") and ": run.scale: " in err[0]


# --- A finished run is never lost to a bad one ---

def _files(folder):
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_nothing_already_written_is_lost(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["run", str(BASELINE), "--scale", "0.0005", "--out", str(out), "--quiet"])
    capsys.readouterr()
    assert rc == 0
    before = _files(out)
    assert {"timeseries.csv", "summary.json", "manifest.json"} <= set(before)
    assert any(k.startswith("figures/") for k in before)
    bad = tmp_path / "bad.toml"
    bad.write_text(HEAD + "[pack.segments.darien]\np_death = 1.5\n")
    listing = snapshot(tmp_path)
    for extra in ([], ["--force"]):
        rc = main(["run", str(bad), "--scale", "0.0005", "--out", str(out), "--quiet", *extra])
        err = capsys.readouterr().err
        assert rc == 2 and err.startswith("error: ") and "Traceback" not in err
    for extra in (["--set", "behaviour.wait_cost"], ["--set", "behaviour.wait_cost=99", "--force"]):
        rc = main(["run", str(BASELINE), "--scale", "0.0005", "--out", str(out), "--quiet", *extra])
        assert rc == 2
        assert capsys.readouterr().err.startswith("error: ")

    assert _files(out) == before
    assert snapshot(tmp_path) == listing


# --- Garbage values for a parameter: a clean error or a valid scenario, never a traceback ---

KEYS = ["behaviour.wait_cost", "behaviour.prior_admit", "information.wom_awareness", "network.degree",
        "run.scale", "run.seed", "run.spinup_weeks", "run.start", "run.end",
        "pack.segments.darien.p_death", "pack.offices.Colombia.weekly_quota", "pack.parole.p_denied"]
# Not yet in KEYS: whole-number pack fields (e.g. pack.resettlement.decision_weeks), which crash on nan and
# inf today (see CRASHES); add one back when that is fixed.
VALUES = st.one_of(
    st.floats().map(repr),
    st.integers(min_value=-10**30, max_value=10**30).map(str),
    st.text(max_size=12),
    st.sampled_from(["true", "nan", "-inf", "1e400", "[1, 2]", "{ a = 1 }", "'3'", "2024-01-01", "07:00:00",
                     "1979-05-27T07:32:00Z", "0x10", "1_000", "0.5", "-0", "", "\"\"", "[]"]),
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(key=st.sampled_from(KEYS), value=VALUES)
def test_garbage_values_give_a_clean_error_or_a_valid_scenario(key, value):
    try:
        sc = load_run(BASELINE, overrides=[f"{key}={value}"])
    except InputError as e:
        assert e.field and e.message
        assert "\n" not in f"error: {e}"  # one line, even when the value holds a newline
        return
    assert isinstance(sc, Scenario)
    assert 0 < sc.scale <= 1 and sc.end > sc.start


@settings(max_examples=25, deadline=None)
@given(value=st.one_of(st.floats(allow_nan=True), st.integers(-10**6, 10**6)))
def test_cli_garbage_numbers_exit_2_or_reach_the_model(value):
    """Through the command line: a bad number exits 2 with one clean line; a good one reaches the model
    (which is stubbed out here, so nothing runs)."""
    import abm.model

    class Reached(Exception):
        pass

    def stub(*a, **k):
        raise Reached

    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        mp.setattr(abm.model, "SafeMobilityModel", stub)
        try:
            rc = main(["run", str(BASELINE), "--out", "/nonexistent/never", "--quiet", "--no-figures",
                       "--set", f"behaviour.wait_cost={value!r}"])
        except Reached:
            assert 0 <= value <= 20
            return
    assert rc == 2
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and ": behaviour.wait_cost: " in lines[0]
    assert not (0 <= value <= 20)
