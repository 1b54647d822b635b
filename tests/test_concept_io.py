"""Concepts as JSON (explorer/core/concept_io.py): a round trip, and every way a stranger's file
can be wrong refused with a message that says what."""

import json

import numpy as np
import pytest
from test_concepts import unit

from explorer.core.concept_io import MAX_IMPORTED, concepts_from_json, concepts_to_json
from explorer.core.concepts import MAX_NAME, Concept, ConceptError


def saved_doc(latent_dim=4, n=1):
    e = np.eye(latent_dim)
    concepts = [Concept(f"c{i}", {"ae": e[0], "vae": e[1]}) for i in range(n)]
    return json.loads(concepts_to_json(concepts, latent_dim))


def test_concepts_round_trip_through_json_normalized():
    rng = np.random.default_rng(9)
    concepts = [
        Concept("Smiling", {"ae": unit(rng.normal(size=4)), "vae": unit(rng.normal(size=4))}),
        Concept("Big", {"ae": 3 * np.ones(4), "vae": rng.normal(size=4)}, "class 1 minus 7"),
    ]
    text = concepts_to_json(concepts, 4, models="ae.pt + vae.pt")
    back, models = concepts_from_json(text.encode(), 4)
    assert models == "ae.pt + vae.pt"
    assert [(c.name, c.description) for c in back] == [
        ("Smiling", ""),
        ("Big", "class 1 minus 7"),
    ]
    for old, new in zip(concepts, back, strict=True):
        for kind in ("ae", "vae"):
            np.testing.assert_allclose(new.vectors[kind], unit(old.vectors[kind]), atol=1e-15)


def test_concepts_json_accepts_the_limits_themselves():
    doc = saved_doc(n=MAX_IMPORTED)
    doc["concepts"][0]["name"] = "x" * MAX_NAME
    assert len(concepts_from_json(json.dumps(doc), 4)[0]) == MAX_IMPORTED


def set_vector(values):
    def change(doc):
        doc["concepts"][0]["vectors"]["ae"] = values

    return change


def set_name(name):
    def change(doc):
        doc["concepts"][0]["name"] = name

    return change


def bad_file(name, change, message):
    return pytest.param(change, message, id=name)


VECTOR = "c0: the ae vector must be 4 finite numbers, not all 0"
NAME = "name of 1 to 80 characters"


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning")
@pytest.mark.parametrize(
    "change, message",
    [
        bad_file("format", lambda d: d.update(format="x"), "not a Latent Explorer concepts file"),
        bad_file("newer", lambda d: d.update(version=2), "version 2 is newer than this app"),
        bad_file("version text", lambda d: d.update(version="1"), "version '1'"),
        bad_file("latent dim", lambda d: d.update(latent_dim=3), "3-D; the models here are 4-D"),
        bad_file("no list", lambda d: d.update(concepts={}), "'concepts' must be a list"),
        bad_file("too many", lambda d: d.update(concepts=[{}] * 101), "list of at most 100"),
        bad_file("missing kind", lambda d: d["concepts"][0]["vectors"].pop("vae"), "c0: needs one"),
        bad_file("no vectors", lambda d: d["concepts"][0].pop("vectors"), "c0: needs one vector"),
        bad_file("short", set_vector([1.0, 0.0, 0.0]), VECTOR),
        bad_file("NaN", set_vector([float("nan"), 1.0, 0.0, 0.0]), VECTOR),
        bad_file("inf", set_vector([float("inf"), 1.0, 0.0, 0.0]), VECTOR),
        bad_file("bool", set_vector([True, 0, 0, 0]), VECTOR),
        bad_file("string", set_vector(["1", 0, 0, 0]), VECTOR),
        bad_file("not a list", set_vector("1,0,0,0"), VECTOR),
        bad_file("all zero", set_vector([0, 0.0, 0, 0]), VECTOR),
        bad_file("empty name", set_name(""), NAME),
        bad_file("blank name", set_name("   "), NAME),
        bad_file("long name", set_name("x" * (MAX_NAME + 1)), NAME),
        bad_file("number name", set_name(7), NAME),
        bad_file("not an object", lambda d: d["concepts"].append("c1"), NAME),
        bad_file("huge int", set_vector([10**400, 0, 0, 0]), VECTOR),
    ],
)
def test_concepts_json_refuses_bad_files_saying_what_is_wrong(change, message):
    doc = saved_doc()
    change(doc)
    with pytest.raises(ConceptError, match=message):
        concepts_from_json(json.dumps(doc), 4)


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        b"\xff\xfe\x00",
        pytest.param("[" * 100_000, id="deeply-nested"),
    ],
)
def test_concepts_json_refuses_text_that_is_not_json(text):
    with pytest.raises(ConceptError, match="not a JSON file"):
        concepts_from_json(text, 4)


def test_concepts_json_refuses_json_that_is_not_an_object():
    with pytest.raises(ConceptError, match="not a Latent Explorer concepts file"):
        concepts_from_json("[1, 2]", 4)


def test_concepts_json_reads_huge_but_finite_numbers_as_their_direction():
    doc = saved_doc()
    set_vector([1e308, 1e308, 0, 0])(doc)
    concept = concepts_from_json(json.dumps(doc), 4)[0][0]
    np.testing.assert_allclose(concept.vectors["ae"], [2**-0.5, 2**-0.5, 0, 0])
