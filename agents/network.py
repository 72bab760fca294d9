"""The social network: ties within each community (nationality x place), bridging ties to compatriots
elsewhere and to other nationalities in the same place. Generated with networkx (Holme-Kim power-law
cluster graphs, seeded from the model's numpy Generator) and held as a symmetric scipy CSR matrix,
so that word of mouth is a sparse matrix-vector product.
"""
from __future__ import annotations

import networkx as nx
import numpy as np
import scipy.sparse as sp


def _community_edges(n: int, degree: float, clustering: float, rng) -> np.ndarray:
    m = max(1, int(round(degree / 2)))
    if n <= 1:
        return np.empty((0, 2), dtype=np.int64)
    if n <= m + 1:
        g = nx.complete_graph(n)
    else:
        g = nx.powerlaw_cluster_graph(n, m, clustering, seed=rng)
    e = np.array(g.edges(), dtype=np.int64)
    return e.reshape(-1, 2)


def _random_bridges(members: np.ndarray, key: np.ndarray, mean_ties: float, rng) -> np.ndarray:
    """About mean_ties/2 * len(members) random pairs among `members` whose `key` differs."""
    n_edges = rng.poisson(mean_ties * len(members) / 2) if len(members) > 1 else 0
    if n_edges == 0:
        return np.empty((0, 2), dtype=np.int64)
    a = rng.integers(0, len(members), n_edges)
    b = rng.integers(0, len(members), n_edges)
    keep = key[a] != key[b]
    return np.stack([members[a[keep]], members[b[keep]]], axis=1)


def build_network(people, params: dict, rng) -> sp.csr_matrix:
    edges = []
    groups = people.group
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        e = _community_edges(len(members), params["degree"], params["clustering"], rng)
        edges.append(members[e])
    for nat in np.unique(people.nat):
        members = np.flatnonzero(people.nat == nat)
        edges.append(_random_bridges(members, people.place[members], params["bridge_same_nationality"], rng))
    for place in np.unique(people.place):
        members = np.flatnonzero(people.place == place)
        edges.append(_random_bridges(members, people.nat[members], params["bridge_other_nationality"], rng))
    e = np.concatenate([x for x in edges if len(x)] or [np.empty((0, 2), dtype=np.int64)])
    n = people.n
    rows = np.concatenate([e[:, 0], e[:, 1]])
    cols = np.concatenate([e[:, 1], e[:, 0]])
    adj = sp.coo_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=(n, n)).tocsr()
    adj.sum_duplicates()
    adj.data[:] = 1.0
    adj.setdiag(0)
    adj.eliminate_zeros()
    return adj
