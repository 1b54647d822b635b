"""Pages over data with attributes start on Smiling (not CelebA's first name alphabetically,
5_o_Clock_Shadow), and the Concepts form starts afresh on a switch of data: faces -> CelebA
once kept the name "Smiling" over a stubble attribute, so "Make the vector" made a stubble
vector called Smiling."""

import pytest
from apptest import fresh_app
from pairs import train_defaults

from explorer.core import concepts
from explorer.ui import resources, state
from training.data import load_dataset


def test_the_preferred_attribute_is_smiling_or_spike_where_there_is_one():
    assert concepts.preferred_index(["5_o_Clock_Shadow", "Bangs", "Smiling"]) == 2
    assert concepts.preferred_index(["Bangs", "Eyeglasses"]) == 0
    assert concepts.preferred_index([]) == 0
    assert concepts.preferred_index(["High_Frequency", "Damped", "Spike", "Rising"]) == 2


def test_the_classes_a_vector_starts_on_are_1_towards_7_and_two_different_ones():
    assert concepts.default_classes(10) == (1, 7)
    assert concepts.default_classes(8) == (1, 7)
    assert concepts.default_classes(7) == (1, 2)  # 7 % 7 was class 0 ...
    assert concepts.default_classes(2) == (1, 0)  # ... and 7 % 2 the "from" class itself
    assert concepts.default_classes(1) == (0, 0)


@pytest.mark.parametrize(
    ("attributes", "classes", "said"),
    [
        (("Smiling", "Eyeglasses"), (), ["**smile vector**", "makes that face smile"]),
        (("5_o_Clock_Shadow", "Smiling"), (), ["**smile vector**"]),  # CelebA: Smiling first
        (("High_Frequency", "Spike", "Rising"), (), ["**spike vector**", "adds a spike"]),
        (("Blond_Hair", "Bangs"), (), ["images with Blond Hair", "**Blond Hair vector**"]),
        ((), tuple("0123456789"), ["images of 7 minus that of the images of 1", "**1 to 7"]),
        ((), ("T-shirt", "Trouser"), ["**Trouser to T-shirt vector**"]),
        ((), (), ["picked on the map"]),
    ],
)
def test_the_concepts_intro_speaks_of_the_data_at_hand(attributes, classes, said):
    text = concepts.intro_example(attributes, classes)
    assert all(words in text for words in said), text
    assert ("smil" in text) == ("Smiling" in attributes)  # no smile example on digits or waves


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def private_cache(shared_cache, monkeypatch):
    """One data cache for the module: CelebA's images are decoded once, the faces drawn once."""
    monkeypatch.setenv("LATENT_EXPLORER_CACHE", str(shared_cache))
    return shared_cache


@pytest.fixture(scope="module")
def runs(tmp_path_factory, shared_cache):
    """A runs folder with quick CelebA models (1 epoch on 300 images: the pages open at once);
    faces get the shipped pair, as on a fresh server."""
    from conftest import shared_data_root

    path = tmp_path_factory.mktemp("runs")
    root = shared_data_root()
    if not (root / "celeba_subset").is_dir():
        return path  # the shared_data fixture skips (or fails in CI) with the reason
    with pytest.MonkeyPatch.context() as mp:  # module scope: before the autouse cache fixture
        mp.setenv("LATENT_EXPLORER_CACHE", str(shared_cache))
        celeba = load_dataset("celeba", root)
    train_defaults(path, celeba, epochs=1, batch_size=64, first=300)
    return path


@pytest.fixture
def app(runs, monkeypatch, shared_data):
    monkeypatch.setenv(resources.DATA_ENV, str(shared_data))
    monkeypatch.setenv("LATENT_EXPLORER_DATASET", "celeba")
    return fresh_app(runs, monkeypatch, timeout=120)


@pytest.mark.shared_data("celeba_subset")
def test_celeba_pages_start_on_smiling(app):
    app.run()
    app.switch_page("views/explore.py").run()
    assert not app.exception
    assert app.selectbox(key="color_by").value == "Smiling"
    app.switch_page("views/concepts.py").run()
    assert app.selectbox(key="concept_attribute").value == "Smiling"
    assert app.text_input(key=state.CONCEPT_NAME).value == "Smiling"


@pytest.mark.shared_data("celeba_subset")
def test_the_name_follows_the_attribute_until_typed_and_the_form_resets_on_new_data(app):
    app.query_params["dataset"] = "faces"
    app.run()
    app.switch_page("views/concepts.py").run()
    assert not app.exception
    app.selectbox(key="concept_attribute").set_value("Eyeglasses").run()
    assert app.text_input(key=state.CONCEPT_NAME).value == "Eyeglasses"  # followed
    app.text_input(key=state.CONCEPT_NAME).input("specs").run()
    app.selectbox(key="concept_attribute").set_value("Bangs").run()
    assert app.text_input(key=state.CONCEPT_NAME).value == "specs"  # typed: kept

    app.selectbox(key="dataset").set_value("celeba").run()
    assert not app.exception
    assert app.selectbox(key="concept_attribute").value == "Smiling"
    assert app.text_input(key=state.CONCEPT_NAME).value == "Smiling"
    app.button(key="make_concept").click().run()
    assert not app.exception and not app.error
    made = app.session_state[state.CONCEPTS]
    assert list(made) == ["Smiling"] and made["Smiling"].groups.names == ("not Smiling", "Smiling")
