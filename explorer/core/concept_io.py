"""Saved concepts as JSON: export, and an import that checks everything a stranger's file
could get wrong (format, version, latent size, finite numbers, names, count)."""

from __future__ import annotations

import json

import numpy as np

from explorer.core.concepts import Concept, ConceptError, check_name

JSON_FORMAT = "latent-explorer-concepts"
JSON_VERSION = 1
MAX_IMPORTED = 100


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
    check_name(name)
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
