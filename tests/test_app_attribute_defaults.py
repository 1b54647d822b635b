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
