"""The social network: ties within each community (nationality x place), bridging ties to compatriots
elsewhere and to other nationalities in the same place, held as a symmetric scipy CSR matrix so that
word of mouth is a sparse matrix product.

Why not networkx. The model runs with one agent per person: about 15 million people in some twenty
communities, the largest about 3 million. networkx's Holme-Kim generator (preferential attachment
with triad closure) adds one node at a time, and where each new node attaches depends on the degrees
left by all the previous ones: an inherently sequential Python loop (~8 s for 146,000 people, so
about 15 minutes and tens of GB of Python objects for 15 million) that cannot be vectorised. Instead,
as in Covasim/Starsim contact layers, the network is the union of independent layers, each drawn with
a few whole-array numpy operations per community:

1. Circles (clustering). Members are shuffled (`rng.permutation`) and cut into cliques -- household,
   friends, workmates -- of k or k + 1 people. Every pair of a person's clique-mates is tied, so
   this layer alone has clustering 1.
2. Hubs (heavy-tailed degrees). Random ties within the community, Chung-Lu style: each person gets a
   weight w from a Lomax (Pareto II) law with tail P(w > x) ~ x^-2, the tail of preferential
   attachment's degree distribution (P(k) ~ k^-3), capped so that nobody expects more than
   MAX_RANDOM_DEGREE random ties, and scaled to lambda w_i expected ties. Each person starts about
   lambda w_i / 2 ties whose other ends are drawn at random, with replacement, in proportion to the
   weights (as in Chung-Lu), so they receive about as many again: lambda w_i on average, with a
   near-Poisson spread. Random ties almost never close triangles, so they dilute the clustering of
   the circles, most for the hubs (as in Holme-Kim, where clustering falls with degree).
3. Bridges, as before: random pairs of compatriots living in different places, and of people of
   different nationalities living in the same place.

The clique size sets the clustering: given the mean degree within the community (`degree`, d) and
the target average local clustering (`clustering`, C, as networkx's average_clustering measures it:
the mean over people, counting 0 for those with fewer than two contacts), `_circle_size` solves for
the mean clique size x; the remaining lambda = d + 1 - x ties per person are random (formula there).

All randomness comes from the numpy Generator passed in, in a fixed order: the same generator state
gives the same matrix. Loops run over communities, nationalities and places, never over people or
ties. For the 14.6 million people of the Americas pack at scale 1 (65 million ties, 129 million
stored entries) it takes 5.6 s on a 2-core VM (the bench's full-scale row, docs/performance.md; 4-6 s
in one-off runs, the spread being the VM's first-touch page faults) and peaks about 1.2 GB above the
memory in use before (one-off measurement of VmHWM); the result is 1.04 GB. The tie list becomes CSR
in a compiled counting sort (`_csr_arrays`).
"""
from __future__ import annotations

import math
from functools import lru_cache

import numba
import numpy as np
import scipy.sparse as sp
from scipy.optimize import brentq
from scipy.special import gammaln, xlogy

# Tail index of the hub weights: P(w > x) = (1 + x)^-2, the exponent of preferential attachment
# (Barabasi-Albert / Holme-Kim degree density ~ k^-3). The closed forms below assume it is 2.
TAIL = 2.0
# Cap on anyone's expected number of random ties: the biggest hubs keep a few hundred contacts
# (Holme-Kim with 3 million people would give some thousands; nobody talks with that many people).
MAX_RANDOM_DEGREE = 300.0
# Stored value of a tie. float32 rather than int8: the model multiplies the matrix by float32
# columns, and with int8 data scipy would make a float32 copy of the data at every product; float32
# also rules out integer overflow in `adj @ bool_vector` for people with over 127 contacts. It costs
# no extra memory while building (see _to_csr), 4 bytes a tie in the result.
DATA_DTYPE = np.float32

_GRID = 256   # quantiles of the weight law over which the expected clustering is averaged
_RMAX = 96    # random-tie counts summed over; beyond, a person's clustering is below 0.01 (and such
              # people are rare): C changes by < 1e-5 against 2048 quantiles and 512 counts


# ---------------------------------------------------------------------------------------------------
# Hub weights
# ---------------------------------------------------------------------------------------------------

def _hub_cap(n: int, d: float) -> float:
    """Largest expected number of random ties in a community of n people: MAX_RANDOM_DEGREE, or
    sqrt(n d) in small communities (about the structural cut-off sqrt(total tie ends) of Chung-Lu
    graphs, above which the biggest hubs would need several ties to each other)."""
    return min(MAX_RANDOM_DEGREE, math.sqrt(n * d))


def _weight_cap(lam: float, top: float) -> float:
    """Cap c on the raw Lomax draw L such that the largest expected random degree is `top`. Weights are
    min(L, c) / E[min(L, c)] with E[min(L, c)] = c / (1 + c) for TAIL = 2, so the largest weight is
    1 + c and lam (1 + c) = top. c = 0 (no room for hubs) means equal weights."""
    if lam <= 0:
        return 0.0
    return max(top / lam - 1.0, 0.0)


def _weights(raw: np.ndarray, c: float) -> np.ndarray:
    """Mean-one weights from Lomax(2) draws `raw` capped at c."""
    if c <= 0:
        return np.ones_like(raw)
    return np.minimum(raw, c) * ((1.0 + c) / c)


# ---------------------------------------------------------------------------------------------------
# Expected clustering, and the clique size that hits a target
# ---------------------------------------------------------------------------------------------------

def _poisson_pmf(mu: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Poisson(mu_i) pmf at r (rows i), 0 for r < 0."""
    rr = np.maximum(r, 0.0)
    p = np.exp(xlogy(rr, mu) - mu - gammaln(rr + 1.0))
    return np.where(r >= 0, p, 0.0)


def _random_degree_law(lam: float, top: float) -> np.ndarray:
    """P(R = r), r < _RMAX, for a person's number R of random ties, as `_hubs` draws them: with
    mu = lam w, they start A ties (mu / 2 rounded at random: floor, plus 1 with chance the fractional
    part) and receive Poisson(B / 2) ties (B = mu rounded at random), so R = A + Poisson(B / 2),
    averaged over _GRID quantiles of the weight w (the Lomax(2) quantile is (1 - u)^(-1/2) - 1)."""
    u = (np.arange(_GRID) + 0.5) / _GRID
    mu = lam * _weights((1.0 - u) ** (-1.0 / TAIL) - 1.0, _weight_cap(lam, top))
    r = np.arange(_RMAX, dtype=float)[None, :]
    out = np.zeros(_RMAX)
    fa, fb = np.floor(mu / 2), np.floor(mu)
    pa, pb = mu / 2 - fa, mu - fb
    for start, p_start in ((fa, 1 - pa), (fa + 1, pa)):
        for stubs, p_stubs in ((fb, 1 - pb), (fb + 1, pb)):
            pr = _poisson_pmf(stubs[:, None] / 2, r - start[:, None])
            out += ((p_start * p_stubs)[:, None] * pr).mean(axis=0)
    return out


def _clique_clustering(s: int, r: np.ndarray) -> np.ndarray:
    """Local clustering of someone in a clique of s people with r random ties: the (s-1)(s-2)/2 tied
    pairs among their clique-mates over the (s-1+r)(s-2+r)/2 pairs of contacts (0 below 2 contacts)."""
    num = (s - 1.0) * (s - 2.0)
    den = (s - 1.0 + r) * (s - 2.0 + r)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def _expected_clustering(x: float, d: float, top: float) -> float:
    k = int(math.floor(x))
    q = x - k
    lam = max(d + 1.0 - x, 0.0)
    r = np.arange(_RMAX, dtype=float)
    if lam > 0:
        pr = _random_degree_law(lam, top)
    else:
        pr = (r == 0).astype(float)
    return float(pr @ ((1.0 - q) * _clique_clustering(k, r) + q * _clique_clustering(k + 1, r)))


@lru_cache(maxsize=256)
def _solve_circle_size(d: float, target: float, top: float) -> float:
    lo, hi = 1.0, d + 1.0
    f = lambda x: _expected_clustering(x, d, top) - target
    if f(hi) <= 0:
        return hi
    if f(lo) >= 0:
        return lo
    return float(brentq(f, lo, hi, xtol=1e-6))


def _circle_size(d: float, target: float, n: int) -> float:
    """Mean clique size x, per person, that gives expected average clustering `target` when the mean
    degree in the community is d: a share q = x - k of people are in cliques of k + 1 (k = floor(x)),
    the others in cliques of k, and everyone has on average lambda = d + 1 - x random ties.

    Someone in a clique of s people with R random ties has s - 1 + R contacts, of which the
    (s-1)(s-2)/2 pairs of clique-mates are tied (random ties close almost no triangles), so
        c(s, R) = (s-1)(s-2) / ((s-1+R)(s-2+R))
    is their local clustering, and the expected average clustering is
        C(x) = sum_r P(R = r) [ (1 - q) c(k, r) + q c(k + 1, r) ],
    R ~ Poisson(lambda w) (near enough; exactly as drawn in _random_degree_law), with w the capped
    mean-one Lomax(2) weight.
    If everyone had exactly d contacts this would invert in closed form,
        s = 3/2 + sqrt(1/4 + C d (d - 1))          (s = 5.27 for d = 8, C = 0.25),
    but with hubs most people have fewer random ties than lambda and so a higher clustering (c is
    convex in R), and this closed form overshoots badly (s = 5.27 gives C = 0.53; the solution is
    x = 2.86, lambda = 6.1). C(x) increases with x (bigger cliques, fewer random ties), so the exact
    expectation is inverted numerically (Brent) on [1, d + 1]: x = d + 1 is cliques only (C = 1 if d
    is whole), x = 1 no cliques (a pure Chung-Lu graph, C ~ 0). Targets out of reach give the
    nearest end. n enters only through the hub cap (`_hub_cap`), which is the same
    for all communities over MAX_RANDOM_DEGREE^2 / d people (~11,000), so the solve is cached."""
    return _solve_circle_size(float(d), float(target), _hub_cap(n, d))


# ---------------------------------------------------------------------------------------------------
# The tie list: undirected ties written straight into the arrays that become the COO matrix
# ---------------------------------------------------------------------------------------------------

class _Ties:
    """Ties (a[i], b[i]), i < m, in two int32 arrays with room for twice the ties, so that _to_csr can
    append the mirrored ties (b, a) in place. Layers write into `reserve`d slices rather than
    returning arrays to concatenate: at 65 million ties every extra copy is 0.5 GB (and, on a fresh
    VM, seconds of page faults). np.empty does not touch memory, so spare room costs nothing."""

    def __init__(self, expected: int):
        self.a = np.empty(2 * expected, dtype=np.int32)
        self.b = np.empty(2 * expected, dtype=np.int32)
        self.m = 0

    def reserve(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        if 2 * (self.m + k) > len(self.a):                    # unlikely: more ties than expected
            size = 2 * max(2 * (self.m + k), len(self.a))
            for name in ("a", "b"):
                new = np.empty(size, dtype=np.int32)
                new[:self.m] = getattr(self, name)[:self.m]
                setattr(self, name, new)
        s = self.m
        self.m += k
        return self.a[s:self.m], self.b[s:self.m]

    def drop_from_last(self, bad: np.ndarray, k: int):
        """Remove ties at positions `bad` (sorted, within the last reserved block of length k) by moving
        the block's last ties into their places."""
        if len(bad) == 0:
            return
        start = self.m - k
        end = self.m - len(bad)
        holes = bad[bad < k - len(bad)] + start
        tail = np.arange(end, self.m)
        movers = tail[~np.isin(tail - start, bad)]
        self.a[holes] = self.a[movers]
        self.b[holes] = self.b[movers]
        self.m = end


def _circles(members: np.ndarray, x: float, ties: _Ties, rng):
    """Cliques over a random order of `members`: k + 1 people with probability p, else k, drawn
    independently until the community is used up (the last clique takes who is left).
    p = q k / (k + 1 - q) makes the share of people in cliques of k + 1 equal to q = x - k."""
    n = len(members)
    k = int(math.floor(x))
    q = x - k
    perm = rng.permutation(members)
    p = q * k / (k + 1.0 - q)
    sizes = k + (rng.random(n // k + 2) < p)
    cum = np.cumsum(sizes)
    n_full = int(np.searchsorted(cum, n, side="right"))
    n_big = int(sizes[:n_full].sum()) - k * n_full            # cliques of k + 1 among the full ones
    rest = n - (int(cum[n_full - 1]) if n_full else 0)
    # the order is random, so the big cliques can be laid out first, then the small, then the rest;
    # all pairs of a clique's members (columns i < j of its row) are tied
    start = 0
    for s, count in ((k + 1, n_big), (k, n_full - n_big), (rest, 1 if rest else 0)):
        if s >= 2 and count > 0:
            block = perm[start:start + s * count].reshape(count, s)
            i, j = np.triu_indices(s, 1)
            va, vb = ties.reserve(count * len(i))
            np.take(block, i, axis=1, out=va.reshape(count, len(i)))
            np.take(block, j, axis=1, out=vb.reshape(count, len(j)))
        start += s * count


def _hubs(members: np.ndarray, lam: float, d: float, ties: _Ties, rng):
    """About lam random ties per member, with heavy-tailed expected degrees lam * w_i (Chung-Lu)."""
    n = len(members)
    if lam <= 0 or n < 2:
        return
    # (in-place float32 arithmetic: at 3 million members every temporary array costs page faults)
    w = rng.random(n, dtype=np.float32)                      # Lomax(2) by inversion: (1-u)^-1/2 - 1
    np.subtract(1.0, w, out=w)
    np.power(w, -1.0 / TAIL, out=w)
    w -= 1.0
    c = _weight_cap(lam, _hub_cap(n, d))
    if c > 0:
        np.minimum(w, c, out=w)
    else:
        w.fill(1)
    w /= w.mean(dtype=np.float64)   # mean one exactly: the mean of heavy-tailed draws is noisy
    # Ends drawn at random give i and j about mu_ij = lam w_i w_j / n ties; merging multiple ties and
    # dropping self-ties loses about lam^2 E[w^2]^2 / (2n) + lam E[w^2] / n ties per person (the sums
    # of mu^2 / 2 over pairs and of mu_ii / 2): 1-2% in communities of a few thousand with hubs, nil
    # in big ones. The stubs are raised to make up for it.
    w2 = float(np.dot(w, w)) / n
    w *= lam * (1.0 + w2 * (lam * w2 / 2.0 + 1.0) / n)
    # Each member starts mu/2 ties (rounded at random, one uniform draw a person: much cheaper than
    # Poisson draws) whose other ends are drawn with replacement from a pool holding each member
    # mu times (rounded at random): they receive about Poisson(mu/2) more, in proportion to their
    # weight, as in Chung-Lu. Ties come out sorted by their first end (see _to_csr).
    half = w * np.float32(0.5)
    half += rng.random(n, dtype=np.float32)
    w += rng.random(n, dtype=np.float32)
    starts = half.astype(np.int32)
    del half
    pool = np.repeat(members, w.astype(np.int32))
    del w
    m = int(starts.sum())
    if m == 0 or len(pool) == 0:
        return
    va, vb = ties.reserve(m)
    va[:] = np.repeat(members, starts)
    del starts
    np.take(pool, rng.integers(0, len(pool), m, dtype=np.int32 if len(pool) < 2**31 else np.int64), out=vb)
    ties.drop_from_last(np.flatnonzero(va == vb), m)         # self-ties; multiple ties merge later


def _bridges(outer: np.ndarray, inner: np.ndarray, mean_ties: float, ties: _Ties, rng):
    """Within each value of `outer`, about mean_ties / 2 * size random pairs whose `inner` differ.

    Each member starts Poisson(mean_ties / 2) bridges, whose other end is uniform over the block's
    people with another `inner` value (drawn directly, without rejection), so the mean number of
    bridges per person is mean_ties wherever there is someone to bridge to (a nationality living in
    one place has no compatriots elsewhere)."""
    if mean_ties <= 0 or len(outer) == 0:
        return
    key = outer.astype(np.int32) * (int(inner.max()) + 1) + inner
    # stable argsort is a radix sort for 16-bit keys, O(n)
    key = key.astype(np.int16) if key.max() < np.iinfo(np.int16).max else key
    order = np.argsort(key, kind="stable").astype(np.int32)
    del key
    sorted_outer = outer[order]
    sorted_inner = inner[order]
    bounds = np.concatenate([[0], np.flatnonzero(sorted_outer[1:] != sorted_outer[:-1]) + 1, [len(order)]])
    for s, e in zip(bounds[:-1], bounds[1:]):
        size = int(e - s)
        sub = sorted_inner[s:e]
        sub_start = np.concatenate([[0], np.flatnonzero(sub[1:] != sub[:-1]) + 1]).astype(np.int32)
        if len(sub_start) < 2:
            continue                                           # one inner value: nobody to bridge to
        sub_count = np.diff(np.append(sub_start, size)).astype(np.int32)
        # in member order, so that first ends come sorted (see _to_csr)
        a = np.repeat(np.arange(size, dtype=np.int32), rng.poisson(mean_ties / 2, size))
        n_edges = len(a)
        if n_edges == 0:
            continue
        which = np.searchsorted(sub_start, a, side="right") - 1
        st, cnt = sub_start[which], sub_count[which]
        del which
        b = rng.integers(0, size - cnt, dtype=np.int32)       # a position outside a's inner block
        b += cnt * (b >= st)
        members = order[s:e]
        va, vb = ties.reserve(n_edges)
        np.take(members, a, out=va)
        np.take(members, b, out=vb)


@numba.njit(cache=True, nogil=True)
def _csr_arrays(a, b, n):
    """indptr and indices of the symmetric matrix of ties (a[k], b[k]): each tie entered both ways, rows
    sorted, duplicate ties merged. A counting sort by row; then each row sorted (on all threads) and
    compacted in place (the write position never passes the read position)."""
    indptr = np.zeros(n + 1, dtype=np.int64)
    for k in range(a.shape[0]):
        indptr[a[k] + 1] += 1
        indptr[b[k] + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    indices = np.empty(indptr[n], dtype=np.int32)
    fill = indptr[:-1].copy()
    for k in range(a.shape[0]):
        x, y = a[k], b[k]
        indices[fill[x]] = y
        fill[x] += 1
        indices[fill[y]] = x
        fill[y] += 1
    _sort_rows(indptr, indices)
    out = 0
    start = 0
    for i in range(n):
        end = indptr[i + 1]
        indptr[i] = out
        prev = -1
        for k in range(start, end):
            v = indices[k]
            if v != prev:
                indices[out] = v
                out += 1
                prev = v
        start = end
    indptr[n] = out
    return indptr, indices[:out]


@numba.njit(parallel=True, cache=True, nogil=True)
def _sort_rows(indptr, indices):
    """Sort each row's entries in place: insertion sort for the short rows most people have (a call to a
    general sort per row costs more than the sort), numpy's sort for the hubs."""
    for i in numba.prange(indptr.shape[0] - 1):
        lo, hi = indptr[i], indptr[i + 1]
        if hi - lo > 32:
            indices[lo:hi].sort()
            continue
        for k in range(lo + 1, hi):
            v = indices[k]
            j = k - 1
            while j >= lo and indices[j] > v:
                indices[j + 1] = indices[j]
                j -= 1
            indices[j + 1] = v


def _to_csr(ties: _Ties, n: int) -> sp.csr_matrix:
    """The symmetric 0/1 CSR matrix of the ties (no self-ties; duplicates allowed), with sorted rows and
    duplicates merged, as scipy's coo -> csr conversion gives it (tests/test_network.py compares them).

    Compiled (_csr_arrays) rather than scipy's conversion, which needs the mirrored tie list and an
    int8 value per entry as input: for the 1M-agent baseline's 8.8 million entries, 0.34 s for scipy
    (about half of building the network), 0.08 s compiled (one-off timings). The float32 values go in
    the memory of the first ends' array, no longer needed and already paged in, so the result costs no
    new memory beyond the indices and indptr."""
    m = ties.m
    indptr, indices = _csr_arrays(ties.a[:m], ties.b[:m], n)
    nnz = len(indices)
    rows = ties.a
    del ties.a, ties.b
    values = rows[:nnz].view(np.float32) if DATA_DTYPE == np.float32 else np.empty(nnz, DATA_DTYPE)
    values.fill(1)
    if nnz < 2**31:
        indptr = indptr.astype(np.int32)
    adj = sp.csr_matrix((values, indices, indptr), shape=(n, n), copy=False)
    adj.has_sorted_indices = True
    adj.has_canonical_format = True
    return adj


def build_network(people, params: dict, rng: np.random.Generator) -> sp.csr_matrix:
    """The contact network of `people` (arrays `group`, `nat`, `place`; `n`): a symmetric CSR matrix
    with 1 for each tie and no self-ties. params: `degree` (mean ties within one's community),
    `clustering` (target average local clustering within a community), `bridge_same_nationality`,
    `bridge_other_nationality` (mean bridging ties per person)."""
    n = int(people.n)
    d = float(params["degree"])
    target = float(params["clustering"])
    b_nat = float(params["bridge_same_nationality"])
    b_place = float(params["bridge_other_nationality"])
    ties = _Ties(int(1.05 * n * (d + b_nat + b_place) / 2) + 1024)
    if n:
        group = np.asarray(people.group)
        small = group.min() >= 0 and group.max() < np.iinfo(np.int16).max
        by_group = np.argsort(group.astype(np.int16) if small else group, kind="stable").astype(np.int32)
        cuts = np.flatnonzero(np.diff(group[by_group])) + 1
        for members in np.split(by_group, cuts):
            if len(members) < 2:
                continue
            x = _circle_size(d, target, len(members))
            _circles(members, x, ties, rng)
            _hubs(members, max(d + 1.0 - x, 0.0), d, ties, rng)
        del by_group
        nat, place = np.asarray(people.nat), np.asarray(people.place)
        _bridges(nat, place, b_nat, ties, rng)
        _bridges(place, nat, b_place, ties, rng)
    return _to_csr(ties, n)


def neighbourhood(adj: sp.csr_matrix, ego: int, size: int) -> np.ndarray:
    """Up to `size` people around `ego`: ego first, then contacts, then contacts of contacts (breadth-first,
    each ring in index order, so the same network gives the same sample). For showing word of mouth at work
    on a readable number of nodes; no randomness is drawn."""
    if not (0 <= ego < adj.shape[0]):
        raise ValueError(f"no person {ego} in a network of {adj.shape[0]}")
    seen = np.zeros(adj.shape[0], dtype=bool)
    seen[ego] = True
    order, ring = [np.array([ego])], np.array([ego])
    left = size - 1
    while left > 0 and len(ring):
        nxt = np.unique(np.concatenate([adj.indices[adj.indptr[i]:adj.indptr[i + 1]] for i in ring]))
        nxt = nxt[~seen[nxt]][:left]
        seen[nxt] = True
        order.append(nxt)
        ring, left = nxt, left - len(nxt)
    return np.concatenate(order).astype(np.int64)
