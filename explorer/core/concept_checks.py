"""How far to trust a concept vector: where the data's codes lie (edits beyond are warned of)
and the report card (held-out AUC, bootstrap stability, group gap, what else moves). Pure NumPy
and scikit-learn."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import NearestNeighbors

from explorer.core.concepts import (
    MIN_GROUP,
    ConceptError,
    check_groups,
    direction,
    group_gap,
    spread,
    strata,
)

# ---- where the data lives ----


@dataclass(frozen=True, eq=False)
class DataRegion:
    """Where a model's codes lie. A code is outside when its distance to its k-th nearest data
    code exceeds `threshold`, that distance for the most isolated of the data's own codes: so
    no data code is ever outside (the 99th percentile flagged 1% of real images at alpha 0).
    A VAE fills one dense blob; an AE's clusters have gaps, and those count as outside too."""

    neighbours: NearestNeighbors
    k: int
    threshold: float

    def distance_ratio(self, z: np.ndarray) -> np.ndarray:
        """(N,) distance to the k-th nearest data code over the threshold: > 1 is outside."""
        distances, _ = self.neighbours.kneighbors(np.atleast_2d(z), n_neighbors=self.k)
        return distances[:, -1] / self.threshold


def data_region(codes: np.ndarray, k: int = 10, quantile: float = 1.0) -> DataRegion:
    """The region of codes (N, K); quantile < 1 would leave the most isolated codes outside."""
    codes = np.asarray(codes, dtype=np.float64)
    k = max(1, min(k, len(codes) - 1))
    neighbours = NearestNeighbors().fit(codes)
    distances, _ = neighbours.kneighbors(codes, n_neighbors=k + 1)  # the first is the code itself
    threshold = float(np.quantile(distances[:, -1], quantile)) or 1e-12
    return DataRegion(neighbours, k, threshold)


def outside_message(kind: str, alphas: np.ndarray, ratios: np.ndarray) -> str | None:
    """A warning in a student's words for the edits (alphas, their distance ratios) that leave
    the region, or None when every edit stays inside."""
    outside = ratios > 1
    if not outside.any():
        return None
    shown = sorted({f"{a:+.1f}" for a in np.asarray(alphas)[outside]}, key=float)
    worst = float(ratios.max())
    how_far = "just outside" if worst < 1.5 else "well outside" if worst < 3 else "far outside"
    return (
        f"{kind.upper()}: at alpha {', '.join(shown)} the edited code is {how_far} the data: "
        f"up to {worst:.1f} times as far from its nearest real codes as the most isolated real "
        "image's code is. The decoder never saw codes there, so trust those images less."
    )


# ---- the report card ----


@dataclass(frozen=True)
class ReportCard:
    """How far to trust a concept vector, for one model.

    auc:           held-out AUC of the projection on u between the groups (0.5 = chance)
    cosine_median, cosine_low:  median and 5th percentile of the cosine between u and the
                   vectors from bootstrap resamples of the groups (1 = perfectly stable)
    gap:           the groups' distance along u in spreads (see group_gap)
    side_effects:  other concept -> how many of its spreads one spread along u moves the data
    """

    auc: float
    cosine_median: float
    cosine_low: float
    gap: float
    side_effects: dict[str, float]


def held_out_auc(
    z: np.ndarray, y: np.ndarray, method: str = "mean", balance=None, folds: int = 5, seed: int = 0
) -> float:
    """AUC of the projection on the direction, each point scored by a direction fitted
    without it (stratified k-fold): honest even for a logistic normal on few points."""
    z, y = check_groups(z, y)
    cells = strata(y, balance)
    # Each training fold must keep MIN_GROUP points of every group (and balanced cell).
    folds = min(folds, int(np.bincount(cells).min()) // MIN_GROUP)
    try:
        if folds < 2:
            raise ConceptError("too few points to hold any out")
        scores = np.empty(len(y))
        split = StratifiedKFold(folds, shuffle=True, random_state=seed)
        for train, test in split.split(z, cells):
            b = None if balance is None else np.asarray(balance)[train]
            u = direction(z[train], y[train], method, b)
            # Centred per fold, so that folds' scores are comparable when pooled.
            scores[test] = (z[test] - z[train].mean(0)) @ u
    except ConceptError:  # too few points, or a degenerate fold: in-sample is all there is
        scores = z @ direction(z, y, method, balance)
    return float(roc_auc_score(y, scores))


def bootstrap_cosines(
    z: np.ndarray, y: np.ndarray, method="mean", balance=None, n: int = 30, seed: int = 0
) -> np.ndarray:
    """(n,) cosines between the direction and directions from resamples drawn with replacement
    inside each group (inside each balanced cell when balancing)."""
    z, y = check_groups(z, y)
    u = direction(z, y, method, balance)
    cells = strata(y, balance)
    rng = np.random.default_rng(seed)
    cosines = []
    for _ in range(n):
        rows = np.concatenate(
            [rng.choice(np.flatnonzero(cells == s), (cells == s).sum()) for s in np.unique(cells)]
        )
        b = None if balance is None else np.asarray(balance)[rows]
        try:
            cosines.append(direction(z[rows], y[rows], method, b) @ u)
        except ConceptError:  # a degenerate resample (all points identical): least stable
            cosines.append(0.0)
    return np.array(cosines)


def side_effects(
    u: np.ndarray, others: dict[str, np.ndarray], codes: np.ndarray
) -> dict[str, float]:
    """For each other concept w: one spread of movement along u moves the codes' projection on
    w by s_u (u . w) / s_w of w's spreads. 0 means untouched; +-1 as much as u itself moves."""
    s_u = spread(codes, u)
    return {name: float(s_u * (u @ w) / spread(codes, w)) for name, w in others.items()}


def report_card(
    z: np.ndarray,
    y: np.ndarray,
    method: str = "mean",
    balance: np.ndarray | None = None,
    others: dict[str, np.ndarray] | None = None,
    codes: np.ndarray | None = None,
    u: np.ndarray | None = None,
) -> ReportCard:
    """The card for the vector made from groups z, y, or for u, a vector derived from it (e.g.
    orthogonalized), whose AUC is then in-sample, while the stability stays that of the
    groups' own direction; codes (default z) set the spreads."""
    z, y = check_groups(z, y)
    codes = z if codes is None else codes
    if u is None:
        u, auc = direction(z, y, method, balance), held_out_auc(z, y, method, balance)
    else:
        auc = float(roc_auc_score(y, z @ u))
    cosines = bootstrap_cosines(z, y, method, balance)
    return ReportCard(
        auc=auc,
        cosine_median=float(np.median(cosines)),
        cosine_low=float(np.quantile(cosines, 0.05)),
        gap=group_gap(z, y, u, spread(codes, u)),
        side_effects=side_effects(u, others or {}, codes),
    )
