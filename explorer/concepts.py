"""Concept vectors: directions in latent space that mean something ("smile"), the arithmetic
built on them, and the checks that say whether to trust one. Pure NumPy and scikit-learn: no
Streamlit, no torch.

A concept comes from two groups of codes: without and with an attribute, class a and class b, or
two selections on the map. Its vector is a unit direction u pointing from the first group to the
second. Edits move a code by alpha data spreads along u, z + alpha * s * u, where s is the
standard deviation of the data's projections on u: alpha = 1 is one typical step in the data,
whatever the model's scale (an AE's codes may span hundreds, a VAE's about one).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.neighbors import NearestNeighbors

from explorer.latent import Projection

METHODS = {"mean": "difference of group means", "logistic": "logistic-regression normal"}
MIN_GROUP = 2  # points per group (and per balanced cell) a direction needs
JSON_FORMAT = "latent-explorer-concepts"
JSON_VERSION = 1
MAX_IMPORTED = 100
MAX_NAME = 80


class ConceptError(ValueError):
    """A concept that cannot be made or read; the message says why, in the user's terms."""


# ---- groups and directions ----


def two_groups(first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row indices and 0/1 group labels (0 = first, 1 = second) of two selections of points.

    A point in both selections says nothing about their difference: it is left out.
    """
    first, second = np.unique(first).astype(int), np.unique(second).astype(int)
    first, second = np.setdiff1d(first, second), np.setdiff1d(second, first)
    rows = np.concatenate([first, second])
    return rows, np.concatenate([np.zeros(len(first), int), np.ones(len(second), int)])


def direction(
    z: np.ndarray, y: np.ndarray, method: str = "mean", balance: np.ndarray | None = None
) -> np.ndarray:
    """The unit direction from group 0 to group 1 of codes z (N, K), y (N,) in {0, 1}.

    method "mean": the difference of the group means. "logistic": the normal of a logistic
    regression boundary between the groups (fitted on standardized codes, mapped back), which
    discounts directions along which the groups vary a lot anyway.
    balance (N,) in {0, 1}, optional: a second attribute to balance against. Each group is
    reweighted so that both values of it weigh the same inside it; the vector then cannot pick
    up a difference in that attribute between the groups (smile balanced for Male: if the
    smiling faces are more often female, the plain vector also turns faces female).
    """
    z, y = _check_groups(z, y)
    if method not in METHODS:
        raise ConceptError(f"method must be one of {sorted(METHODS)}, got {method!r}")
    weights = balanced_weights(y, balance)
    if method == "mean":
        v = _weighted_mean(z, weights * y) - _weighted_mean(z, weights * (1 - y))
    else:
        v = _logistic_normal(z, y, weights)
    norm = np.linalg.norm(v)
    if not np.isfinite(norm) or norm <= 1e-9 * max(1.0, np.abs(z).max()):
        raise ConceptError("the two groups have the same mean code: there is no direction")
    return v / norm


def balanced_weights(y: np.ndarray, balance: np.ndarray | None = None) -> np.ndarray:
    """Per-point weights: each group sums to 1, and with `balance`, each of its two values
    weighs half of each group (every cell group x balance value needs MIN_GROUP points)."""
    if balance is not None and (
        np.shape(balance) != np.shape(y) or not np.isin(balance, (0, 1)).all()
    ):
        raise ConceptError("the attribute to balance against must be 0/1 for every point")
    cells = _strata(y, balance)
    counts = np.bincount(cells, minlength=4)
    if balance is not None and counts.min() < MIN_GROUP:
        raise ConceptError(
            "cannot balance: each group needs at least "
            f"{MIN_GROUP} points with and without the other attribute (cells have {counts})"
        )
    per_group = 1 if balance is None else 2  # cells per group
    return 1.0 / (counts[cells] * per_group)


def _check_groups(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y)
    if z.ndim != 2 or y.shape != (len(z),):
        raise ConceptError(f"need codes (N, K) and one group label each: {z.shape}, {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ConceptError("group labels must be 0 or 1")
    if not np.isfinite(z).all():
        raise ConceptError("the codes hold NaN or infinite values")
    sizes = np.bincount(y.astype(int), minlength=2)
    if sizes.min() < MIN_GROUP:
        raise ConceptError(
            f"each group needs at least {MIN_GROUP} points; they have {sizes[0]} and {sizes[1]}"
        )
    return z, y.astype(int)


def _weighted_mean(z: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (w[:, None] * z).sum(0) / w.sum()


def _logistic_normal(z: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    scale = z.std(0)
    scale[scale == 0] = 1.0
    classifier = LogisticRegression(C=1.0, max_iter=1000)
    classifier.fit((z - z.mean(0)) / scale, y, sample_weight=weights * len(y))
    # w . (z - m) / s is the boundary's score; in code space its normal is w / s.
    return classifier.coef_[0] / scale


# ---- arithmetic ----


def spread(codes: np.ndarray, u: np.ndarray) -> float:
    """The standard deviation of the codes' projections on u: the unit of alpha."""
    s = float(np.std(np.asarray(codes) @ u))
    if not s > 0:
        raise ConceptError("the data does not vary along this vector")
    return s


def edit(z: np.ndarray, u: np.ndarray, step: float, alphas) -> np.ndarray:
    """(A, K) codes z + alpha * step * u for each alpha; step = spread(codes, u)."""
    alphas = np.atleast_1d(np.asarray(alphas, dtype=np.float64))
    return np.asarray(z, dtype=np.float64)[None] + (alphas * step)[:, None] * u[None]


def strip_alphas(alpha: float, n: int = 7) -> np.ndarray:
    """n alphas from -|alpha| to +|alpha| (0 in the middle for odd n): the edit strip. At
    alpha 0 it spans -1 to +1, so the strip still shows what the vector does."""
    a = abs(alpha) or 1.0
    return np.linspace(-a, a, n)


def group_gap(z: np.ndarray, y: np.ndarray, u: np.ndarray, step: float) -> float:
    """How far apart the groups' mean projections on u are, in spreads: the alpha that moves
    a typical code of group 0 to where group 1 typically is."""
    z, y = _check_groups(z, y)
    p = z @ u
    return float((p[y == 1].mean() - p[y == 0].mean()) / step)


def analogy(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """a - b + c: "c, changed the way a differs from b" (king - man + woman)."""
    return np.asarray(a, np.float64) - np.asarray(b, np.float64) + np.asarray(c, np.float64)


def combine(vectors: list[np.ndarray], weights: list[float]) -> np.ndarray:
    """The unit direction of sum(weight * vector), e.g. Smiling + 0.5 Eyeglasses."""
    if not vectors or len(vectors) != len(weights):
        raise ConceptError("give one weight for each vector to combine")
    v = np.sum([w * np.asarray(u, np.float64) for u, w in zip(vectors, weights, strict=True)], 0)
    norm = np.linalg.norm(v)
    if norm < 1e-9:
        raise ConceptError("the weighted vectors cancel out: nothing is left")
    return v / norm


def orthogonalize(u: np.ndarray, others: list[np.ndarray]) -> np.ndarray:
    """u with its component in the span of `others` removed, as a unit vector: moving along
    it leaves every projection on the others unchanged. Others may repeat or depend on each
    other (a concept and its own negative)."""
    u = np.asarray(u, dtype=np.float64)
    norm = np.linalg.norm(u)
    if not norm > 0:
        raise ConceptError("the vector is zero")
    rest = u / norm
    if others:
        # Left singular vectors with non-negligible singular values: an orthonormal basis of
        # the span, whatever the dependencies among the others.
        basis, values, _ = np.linalg.svd(np.stack(others, 1), full_matrices=False)
        basis = basis[:, values > 1e-10 * values.max()]
        rest = rest - basis @ (basis.T @ rest)
    norm = np.linalg.norm(rest)
    if norm < 1e-6:
        raise ConceptError("the vector lies in the span of the others: nothing would be left")
    return rest / norm


def concept_plane(codes: np.ndarray, u: np.ndarray) -> Projection:
    """A map with the concept on x and, on y, the direction the codes vary most in once u is
    taken out: an invertible Projection, so clicks on it still decode."""
    codes = np.asarray(codes, dtype=np.float64)
    mean = codes.mean(0)
    rest = (codes - mean) - np.outer((codes - mean) @ u, u)
    _, _, vt = np.linalg.svd(rest, full_matrices=False)
    second = vt[0] - (vt[0] @ u) * u  # numerically orthogonal to u
    norm = np.linalg.norm(second)
    second = second / norm if norm > 1e-9 else np.zeros_like(u)
    return Projection(mean, np.stack([u, second]))


# ---- where the data lives ----


@dataclass(frozen=True, eq=False)
class DataRegion:
    """Where a model's codes lie. A code is outside when its distance to its k-th nearest data
    code exceeds `threshold`, the distance that 99% of the data's own codes stay within. A
    VAE fills one dense blob; an AE's clusters have gaps, and those count as outside too."""

    neighbours: NearestNeighbors
    k: int
    threshold: float

    def distance_ratio(self, z: np.ndarray) -> np.ndarray:
        """(N,) distance to the k-th nearest data code over the threshold: > 1 is outside."""
        distances, _ = self.neighbours.kneighbors(np.atleast_2d(z), n_neighbors=self.k)
        return distances[:, -1] / self.threshold


def data_region(codes: np.ndarray, k: int = 10, quantile: float = 0.99) -> DataRegion:
    codes = np.asarray(codes, dtype=np.float64)
    k = max(1, min(k, len(codes) - 1))
    neighbours = NearestNeighbors().fit(codes)
    distances, _ = neighbours.kneighbors(codes, n_neighbors=k + 1)  # the first is the code itself
    threshold = float(np.quantile(distances[:, -1], quantile)) or 1e-12
    return DataRegion(neighbours, k, threshold)


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
    z, y = _check_groups(z, y)
    strata = _strata(y, balance)
    # Each training fold must keep MIN_GROUP points of every group (and balanced cell).
    folds = min(folds, int(np.bincount(strata).min()) // MIN_GROUP)
    try:
        if folds < 2:
            raise ConceptError("too few points to hold any out")
        scores = np.empty(len(y))
        split = StratifiedKFold(folds, shuffle=True, random_state=seed)
        for train, test in split.split(z, strata):
            b = None if balance is None else np.asarray(balance)[train]
            u = direction(z[train], y[train], method, b)
            # Centred per fold, so that folds' scores are comparable when pooled.
            scores[test] = (z[test] - z[train].mean(0)) @ u
    except ConceptError:  # too few points, or a degenerate fold: in-sample is all there is
        scores = z @ direction(z, y, method, balance)
    return float(roc_auc_score(y, scores))


def _strata(y: np.ndarray, balance: np.ndarray | None) -> np.ndarray:
    """The groups, or with balance the four cells group x balance value, numbered 0..3."""
    return y if balance is None else y * 2 + np.asarray(balance).astype(int)


def bootstrap_cosines(
    z: np.ndarray, y: np.ndarray, method="mean", balance=None, n: int = 30, seed: int = 0
) -> np.ndarray:
    """(n,) cosines between the direction and directions from resamples drawn with replacement
    inside each group (inside each balanced cell when balancing)."""
    z, y = _check_groups(z, y)
    u = direction(z, y, method, balance)
    strata = _strata(y, balance)
    rng = np.random.default_rng(seed)
    cosines = []
    for _ in range(n):
        rows = np.concatenate(
            [
                rng.choice(np.flatnonzero(strata == s), (strata == s).sum())
                for s in np.unique(strata)
            ]
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
    z, y = _check_groups(z, y)
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


# ---- saved concepts and their JSON ----


@dataclass(frozen=True, eq=False)
class Groups:
    """The two groups a concept is made from: rows of the codes, 0/1 membership, the groups'
    names (from, towards), the method, and the 0/1 attribute to balance against, if any."""

    rows: np.ndarray
    y: np.ndarray
    names: tuple[str, str]
    method: str = "mean"
    balance: np.ndarray | None = None
    balance_name: str = ""


@dataclass(frozen=True, eq=False)
class Concept:
    """A named concept: one unit vector per model kind ("ae", "vae"), each in its own model's
    latent space, and how it was made: in words, and the groups (None when imported or
    combined). adjusted: the vectors were changed after being made from the groups
    (orthogonalized), so they are no longer the groups' own direction."""

    name: str
    vectors: dict[str, np.ndarray]
    description: str = ""
    groups: Groups | None = None
    adjusted: bool = False


def make_concept(name: str, codes: dict[str, np.ndarray], groups: Groups) -> Concept:
    """The concept from groups, in every model: codes maps kind -> (N, K) codes of the rows."""
    _check_name(name)
    vectors = {
        kind: direction(z[groups.rows], groups.y, groups.method, groups.balance)
        for kind, z in codes.items()
    }
    description = f"from {groups.names[0]} towards {groups.names[1]}, {METHODS[groups.method]}"
    if groups.balance is not None:
        description += f", balanced for {groups.balance_name or 'another attribute'}"
    return Concept(name.strip(), vectors, description, groups)


def concepts_to_json(concepts: list[Concept], latent_dim: int, models: str = "") -> str:
    """A JSON document of the concepts; `models` names the pair they were made on."""
    return json.dumps(
        {
            "format": JSON_FORMAT,
            "version": JSON_VERSION,
            "latent_dim": latent_dim,
            "models": models,
            "concepts": [
                {
                    "name": c.name,
                    "description": c.description,
                    "vectors": {k: [float(x) for x in v] for k, v in c.vectors.items()},
                }
                for c in concepts
            ],
        },
        indent=1,
    )


def concepts_from_json(
    text: str | bytes, latent_dim: int, kinds=("ae", "vae")
) -> tuple[list[Concept], str]:
    """(concepts, the models they were made on) from concepts_to_json's output; anything else,
    or vectors of another latent size, raises ConceptError."""
    try:
        doc = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as e:
        raise ConceptError(f"not a JSON file: {str(e)[:200] or type(e).__name__}") from None
    if not isinstance(doc, dict) or doc.get("format") != JSON_FORMAT:
        raise ConceptError("not a Latent Explorer concepts file")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ConceptError(f"concepts file version {version!r} is not a version number")
    if version > JSON_VERSION:
        raise ConceptError(f"concepts file version {version} is newer than this app")
    if doc.get("latent_dim") != latent_dim:
        raise ConceptError(
            f"these concepts are {doc.get('latent_dim')}-D; the models here are {latent_dim}-D"
        )
    entries = doc.get("concepts")
    if not isinstance(entries, list) or len(entries) > MAX_IMPORTED:
        raise ConceptError(f"'concepts' must be a list of at most {MAX_IMPORTED}")
    return [_concept_from_entry(e, latent_dim, kinds) for e in entries], str(doc.get("models", ""))


def _concept_from_entry(entry, latent_dim: int, kinds) -> Concept:
    name = entry.get("name") if isinstance(entry, dict) else None
    _check_name(name)
    vectors = entry.get("vectors")
    if not isinstance(vectors, dict) or set(vectors) != set(kinds):
        raise ConceptError(f"{name}: needs one vector for each of {', '.join(kinds)}")
    out = {}
    for kind in kinds:
        values = _finite_floats(vectors[kind], latent_dim)
        if values is None or not np.abs(values).max() > 0:
            raise ConceptError(
                f"{name}: the {kind} vector must be {latent_dim} finite numbers, not all 0"
            )
        values = values / np.abs(values).max()  # first: the norm of 1e308s would overflow
        out[kind] = values / np.linalg.norm(values)
    return Concept(name.strip(), out, str(entry.get("description", ""))[:500])


def _check_name(name) -> None:
    if not isinstance(name, str) or not 0 < len(name.strip()) <= MAX_NAME:
        raise ConceptError(f"a concept needs a name of 1 to {MAX_NAME} characters")


def _finite_floats(values, length: int) -> np.ndarray | None:
    """values as a float array if it is a list of `length` finite numbers, else None."""
    if not isinstance(values, list) or len(values) != length:
        return None
    if not all(isinstance(x, int | float) and not isinstance(x, bool) for x in values):
        return None
    try:
        array = np.array([float(x) for x in values])
    except OverflowError:  # an integer beyond any float
        return None
    return array if np.isfinite(array).all() else None
