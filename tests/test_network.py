"""The social network: structure (networkx metrics), homophily, and seeding from model.rng."""
import networkx as nx
import numpy as np
import pytest

from abm.model import SafeMobilityModel
from abm.scenario import load_scenario
from tests.conftest import BASELINE


@pytest.fixture(scope="module")
def model():
    return SafeMobilityModel(load_scenario(BASELINE, scale=0.001, seed=2))


def test_adjacency_is_simple_and_undirected(model):
    a = model.adj
    assert (a != a.T).nnz == 0
    assert a.diagonal().sum() == 0
    assert set(np.unique(a.data)) == {1.0}


def test_degree_and_homophily(model):
    a, p, net = model.adj, model.people, model.scenario.network
    deg = np.diff(a.indptr)
    expected = net["degree"] + net["bridge_same_nationality"] + net["bridge_other_nationality"]
    # Holme-Kim gives 2m ties per node on average (less for tiny groups), bridges add their means
    assert 0.8 * expected < deg.mean() < 1.1 * expected
    rows = np.repeat(np.arange(p.n), deg)
    same_nat = (p.nat[rows] == p.nat[a.indices]).mean()
    same_place = (p.place[rows] == p.place[a.indices]).mean()
    # most ties are within a community; a random graph would give the population shares (< 0.3)
    assert same_nat > 0.9
    assert same_place > 0.8


def test_clustering_matches_the_networkx_generator(model):
    """Within a community the network is networkx's Holme-Kim graph: its clustering is that of the
    generator run on its own with the same parameters, and far above a random graph's."""
    p, net = model.people, model.scenario.network
    g = int(np.argmax(np.bincount(p.group)))
    members = np.flatnonzero(p.group == g)
    sub = model.adj[members][:, members]
    G = nx.from_scipy_sparse_array(sub)
    m = int(round(net["degree"] / 2))
    ref = [nx.average_clustering(nx.powerlaw_cluster_graph(len(members), m, net["clustering"], seed=s)) for s in range(5)]
    c = nx.average_clustering(G)
    assert abs(c - np.mean(ref)) < 4 * np.std(ref) + 0.02
    er = 2 * G.number_of_edges() / len(members) ** 2
    assert c > 5 * er


def test_network_is_seeded_from_model_rng():
    sc = load_scenario(BASELINE, scale=0.0005, seed=9)
    a1 = SafeMobilityModel(sc).adj
    a2 = SafeMobilityModel(sc).adj
    a3 = SafeMobilityModel(load_scenario(BASELINE, scale=0.0005, seed=10)).adj
    assert (a1 != a2).nnz == 0
    assert a1.shape != a3.shape or (a1 != a3).nnz > 0
