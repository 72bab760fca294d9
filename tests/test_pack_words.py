"""A pack's own words (issue 18): the Europe pack's experiment report, findings, figures and effects table name its
crossing, offices and pathway as the pack does ("Sea departures", "transit-centre office", "legal pathway"), never
in the Americas' words; a pack without labels reads in plain ones; a bad label is refused naming file and field."""
from __future__ import annotations

import re

import matplotlib.text
import pytest

from abm.errors import InputError
from abm.pack import LABELS, PACKS_DIR, load_pack
from experiments import report
from experiments.experiment import run_experiment
from tests.conftest import ROOT

#: the Americas' words, none of which a Europe report may hold
AMERICAS_WORDS = ("SMO", "Safe Mobility", "parole", "Parole", "Darien", "the US", "United States")

EUROPE = f"""
[experiment]
name = "eu_words"
replicates = 2
draws = 0
seed = 3
scale = 0.001
window = {{ start = "2023-01-01", end = "2023-12-31" }}
outputs = ["darien_crossings", "deaths", "smo_registrations", "smo_arrivals", "parole_arrivals", "intercepted",
           "wait_mean_days", "gave_up_share"]
[baseline]
scenario = "{(ROOT / 'experiments' / 'europe_baseline.toml').as_posix()}"
run = {{ end = "2023-12-31" }}
[[variant]]
name = "capacity_x3"
description = "Every office assesses three times as many cases a week."
multiply = {{ "pack.offices.*.assess_per_week" = 3.0 }}
[[variant]]
name = "cap_x4"
description = "The first programme's monthly cap x4 from 1 January 2023."
[[variant.policy]]
date = "2023-01-01"
kind = "parole_set"
monthly_cap = 5116
source = "test"
"""


@pytest.fixture(scope="module")
def europe_report(tmp_path_factory):
    """A small Europe experiment, with the text of every figure its report draws."""
    tmp = tmp_path_factory.mktemp("eu_words")
    f = tmp / "eu_words.toml"
    f.write_text(EUROPE)
    texts, save = [], report.save

    def keep_text(fig, path):
        texts.extend(t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text())
        return save(fig, path)

    report.save = keep_text
    try:
        res = run_experiment(f, out=tmp / "out", scheduler="single", progress=False)
    finally:
        report.save = save
    page = re.sub(r'src="data:image/png;base64,[^"]*"', "", (res["out"] / "report.html").read_text())
    return page, texts, res["effects"]


def test_a_europe_report_uses_the_europe_packs_names_throughout(europe_report):
    page, texts, eff = europe_report
    # effects.csv's `output` column holds metric names (parole_arrivals), the same in every pack; its labels may not
    for where, text in [("report.html", page), ("figures", "\n".join(texts)), ("effects.csv", eff.effect.to_csv())]:
        found = [w for w in AMERICAS_WORDS if w in text]
        assert not found, f"{where} of a Europe experiment says {found}"
    assert "Sea departures averted" in page and "Sea departures" in "\n".join(texts)
    assert "extra transit-centre office arrivals" in page and "Transit-centre office registrations" in page
    assert "extra legal pathway arrivals" in page and "Legal pathway arrivals" in page
    assert "Share of transit-centre office applicants who gave up and moved" in "\n".join(texts + [page])
    assert {"extra transit-centre office registrations", "extra legal pathway arrivals"} <= set(eff.effect)


def test_a_europe_run_names_its_offices_and_pathway_in_summary_md_and_figures(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    from abm.cli import main

    texts, savefig = [], Figure.savefig

    def keep_text(fig, *a, **k):
        texts.extend(t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text())
        return savefig(fig, *a, **k)

    monkeypatch.setattr(Figure, "savefig", keep_text)
    out = tmp_path / "run"
    assert main(["run", str(ROOT / "experiments" / "europe_baseline.toml"), "--scale", "0.001", "--quiet",
                 "--out", str(out), "--set", "run.end=2022-12-31"]) == 0
    text = (out / "summary.md").read_text()
    assert not [w for w in AMERICAS_WORDS if w in text], text
    assert "Sea departures:" in text and "Transit-centre office registrations:" in text
    assert "Legal pathway arrivals:" in text
    drawn = "\n".join(texts)  # the run's figures: titles, axes, legends, policy names
    assert not [w for w in AMERICAS_WORDS + ("smo_", "Title 42", "CBP") if w in drawn], drawn
    assert {"Sea departures by nationality", "Transit-centre office pipeline"} <= set(texts)


def test_a_pack_without_labels_reads_in_plain_words():
    pack = load_pack(PACKS_DIR / "testland", {"meta": {}})
    assert pack.labels["office"] == "Centra desk"  # its own
    raw = dict(pack.raw, meta={"name": "x"})
    bare = type(pack)(**{**pack.__dict__, "raw": raw})
    assert bare.labels == LABELS


@pytest.mark.parametrize("value,words", [("''", "must not be empty"), ("3", "must be text")])
def test_a_bad_label_is_refused_naming_file_and_field(value, words):
    with pytest.raises(InputError) as e:
        load_pack(PACKS_DIR / "testland", {"meta": {"office": eval(value)}}, origin="scenario.toml")
    assert (e.value.file, e.value.field) == ("scenario.toml", "meta.office") and words in e.value.message


def test_an_unknown_meta_key_is_refused_with_the_nearest_label():
    with pytest.raises(InputError) as e:
        load_pack(PACKS_DIR / "testland", {"meta": {"ofice": "x"}}, origin="scenario.toml")
    assert e.value.field.endswith("ofice") and "office" in e.value.message
