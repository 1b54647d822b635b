"""Concept vectors: directions in latent space that mean something ("smile") and the arithmetic
built on them. Pure NumPy and scikit-learn: no Streamlit, no torch. (Whether to trust one:
concept_checks.py; saving them: concept_io.py.)

A concept comes from two groups of codes: without and with an attribute, class a and class b, or
two selections on the map. Its vector is a unit direction u pointing from the first group to the
second. Edits move a code by alpha data spreads along u, z + alpha * s * u, where s is the
standard deviation of the data's projections on u: alpha = 1 is one typical step in the data,
whatever the model's scale (an AE's codes may span hundreds, a VAE's about one).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.core.latent import Projection

METHODS = {"mean": "difference of group means", "logistic": "logistic-regression normal"}
MIN_GROUP = 2  # points per group (and per balanced cell) a direction needs
MAX_NAME = 80
# The attributes a page starts on where a dataset has one: the lectures' example (faces,
# CelebA), "add a spike" (waves). The first name alphabetically (CelebA's 5_o_Clock_Shadow) is
# a stubble vector nobody asked for.
PREFERRED_ATTRIBUTES = ("Smiling", "Spike")
DEFAULT_ALPHA, ALPHA_MAX = 2.0, 4.0  # spreads: a vector made without groups starts at 2
MIN_START_ALPHA = 1.0  # spreads: one typical step of the data, the least an edit starts at


class ConceptError(ValueError):
    """A concept that cannot be made or read; the message says why, in the user's terms."""


# ---- groups and directions ----


def preferred_index(names: list) -> int:
    """Where a picker of these names starts: on the first of PREFERRED_ATTRIBUTES among them,
    else 0."""
    found = [names.index(n) for n in PREFERRED_ATTRIBUTES if n in names]
    return found[0] if found else 0


def default_classes(n_classes: int) -> tuple[int, int]:
    """The two classes a vector made from classes starts on: 1 towards 7 (the digits' classic
    pair), two different classes wherever there are two."""
    first = min(1, n_classes - 1)
    return first, 7 if n_classes > 7 else (first + 1) % n_classes


def intro_example(attribute_names: tuple[str, ...], class_names: tuple[str, ...]) -> str:
    """The Concepts page's example of a vector, in the terms of the data at hand: the attribute
    or the two classes the page starts on (the lectures' smile on faces), else picked groups."""
    attribute = attribute_names[preferred_index(list(attribute_names))] if attribute_names else ""
    attribute = attribute.replace("_", " ")  # CelebA's names: Blond_Hair
    if attribute == "Smiling":
        return (
            "the average code of smiling faces minus the average code of the others is a "
            "**smile vector** v, and adding it to any face's code, z + alpha * v, makes that "
            "face smile"
        )
    if attribute == "Spike":
        return (
            "the average code of waves with a spike minus the average code of the others is a "
            "**spike vector** v, and adding it to any wave's code, z + alpha * v, adds a spike"
        )
    if attribute:
        return (
            f"the average code of images with {attribute} minus the average code of the others "
            f"is a **{attribute} vector** v, and adding it to any image's code, z + alpha * v, "
            f"adds {attribute}"
        )
    if class_names:
        a, b = (class_names[i] for i in default_classes(len(class_names)))
        return (
            f"the average code of the images of {b} minus that of the images of {a} is a "
            f"**{a} to {b} vector** v, and adding it to the code of an image of {a}, "
            f"z + alpha * v, moves it towards {b}"
        )
    return (
        "the average code of one group of points picked on the map minus that of another is a "
        "vector v, and adding it to an image's code, z + alpha * v, moves the image from the "
        "first kind towards the second"
    )


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
    z, y = check_groups(z, y)
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
    cells = strata(y, balance)
    counts = np.bincount(cells, minlength=4)
    if balance is not None and counts.min() < MIN_GROUP:
        raise ConceptError(
            "cannot balance: each group needs at least "
            f"{MIN_GROUP} points with and without the other attribute (cells have {counts})"
        )
    per_group = 1 if balance is None else 2  # cells per group
    return 1.0 / (counts[cells] * per_group)


def check_groups(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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
    # Imported here: scikit-learn takes a second to import, which the app's first page skips.
    from sklearn.linear_model import LogisticRegression

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
    z, y = check_groups(z, y)
    p = z @ u
    return float((p[y == 1].mean() - p[y == 0].mean()) / step)


def gap_alpha(codes: np.ndarray, rows: np.ndarray, y: np.ndarray, u: np.ndarray) -> float:
    """Where an edit along u starts: the group gap of codes[rows] (0/1 groups y), in spreads of
    all the codes (the edit's step), rounded to the slider's 0.1. For a difference of means that
    is z + v, the lectures' edit. A fixed 2 spreads overshot: on the faces the VAE's gap is 1.7,
    and at 2 spreads one smile in five also opened the mouth. At least MIN_START_ALPHA, so that
    a vector whose groups overlap still visibly moves the image; at most ALPHA_MAX."""
    codes = np.asarray(codes)
    gap = group_gap(codes[rows], y, u, spread(codes, u))
    return float(np.clip(round(gap, 1), MIN_START_ALPHA, ALPHA_MAX))


def starting_alpha(concept: Concept, codes: dict[str, np.ndarray]) -> float:
    """The alpha a concept's edit starts at: the VAE's group gap (gap_alpha), the model whose
    edits are meant to work; DEFAULT_ALPHA for a vector made without groups (imported,
    combined)."""
    groups = concept.groups
    if groups is None:
        return DEFAULT_ALPHA
    return gap_alpha(codes["vae"], groups.rows, groups.y, concept.vectors["vae"])


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


def strata(y: np.ndarray, balance: np.ndarray | None) -> np.ndarray:
    """The groups, or with balance the four cells group x balance value, numbered 0..3."""
    return y if balance is None else y * 2 + np.asarray(balance).astype(int)


# ---- concepts ----


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
    check_name(name)
    vectors = {
        kind: direction(z[groups.rows], groups.y, groups.method, groups.balance)
        for kind, z in codes.items()
    }
    description = f"from {groups.names[0]} towards {groups.names[1]}, {METHODS[groups.method]}"
    if groups.balance is not None:
        description += f", balanced for {groups.balance_name or 'another attribute'}"
    return Concept(name.strip(), vectors, description, groups)


def check_name(name) -> None:
    if not isinstance(name, str) or not 0 < len(name.strip()) <= MAX_NAME:
        raise ConceptError(f"a concept needs a name of 1 to {MAX_NAME} characters")


# ---- what the Concepts page shows about a concept ----


def reference_vectors(
    concept: Concept,
    kind: str,
    codes: np.ndarray,
    attributes: dict[str, np.ndarray],
    saved: dict[str, Concept],
) -> dict[str, np.ndarray]:
    """The vectors to check a concept against, in one model: every attribute's (attributes:
    name -> (N,) 0/1 values of the codes' rows) but those the concept is made of, and the
    other saved concepts'."""
    own = set(concept.groups.names) if concept.groups else set()
    out = {name: direction(codes, y) for name, y in attributes.items() if name not in own}
    out.update({n: c.vectors[kind] for n, c in saved.items() if n != concept.name})
    return out


def positions_along(codes: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """(len(rows),) where those codes sit along u, in spreads from the data's mean."""
    return (codes[rows] - codes.mean(0)) @ u / spread(codes, u)


def group_classes(n_points: int, groups: Groups) -> tuple[np.ndarray, tuple[str, ...]]:
    """Colour classes of n_points for a map: each point's group, and 2 ("neither") for points
    in no group; "neither" is named only when such points exist."""
    classes = np.full(n_points, 2)
    classes[groups.rows] = groups.y
    neither = ("neither",) if (classes == 2).any() else ()
    return classes, (*groups.names, *neither)


def starting_row(groups: Groups | None, picked: int | None) -> int:
    """The data point an edit starts from: the picked one if it is in the "from" group (or
    there are no groups), else the first member of that group ("1 to 7" starts on a 1)."""
    sources = None if groups is None else groups.rows[groups.y == 0]
    if sources is None or picked in sources:
        return picked or 0
    return int(sources.min())  # a made concept's groups hold MIN_GROUP points each
