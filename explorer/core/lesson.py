"""The Lesson: a 15-minute class on autoencoders in ten steps, each a live view, one paragraph
and a predict-then-reveal question. Plain data (the page, explorer/views/lesson.py, draws it),
in the order of the lectures."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from explorer.core.concepts import direction, edit, gap_alpha, spread
from explorer.core.model_pair import KINDS, ModelPair

MAX_STEP_PARAM = 8  # characters of ?lesson= read at most: anything longer is not a step


@dataclass(frozen=True)
class Question:
    """Asked before the view is shown; reveal says what the view then shows."""

    prompt: str
    choices: tuple[str, ...]
    # index into choices: the right answer's place varies between questions, fixed in the data
    # so that every class sees the same order, and no place is a safe guess
    answer: int
    reveal: str


@dataclass(frozen=True)
class Step:
    """view: an instrument's key (explorer/ui/instruments) or one of the lesson's own views
    (explorer/ui/lesson_views.VIEWS); dataset: the data the view needs."""

    title: str
    view: str
    text: str
    question: Question
    dataset: str = "digits"


STEPS: tuple[Step, ...] = (
    Step(
        "Compression and reconstruction",
        "reconstruction",
        "An autoencoder squeezes each image through a narrow code and rebuilds it. The encoder "
        "maps 64 pixels of a digit to just 2 numbers; the decoder maps them back. Training asks "
        "only that the output look like the input, so whatever the code keeps is what matters "
        "most for rebuilding the image.",
        Question(
            "A digit of 64 pixels goes through a code of 2 numbers. What comes back?",
            (
                "The same image, pixel for pixel",
                "Random noise: 2 numbers cannot hold a digit",
                "A blurred but recognisable digit",
            ),
            2,
            "The reconstructions keep the digit's shape and lose the details: the code is a "
            "summary, not a copy.",
        ),
    ),
    Step(
        "AE vs PCA",
        "ae_vs_pca",
        "PCA is the best linear compression: it keeps the directions of largest variance. An "
        "autoencoder with a linear decoder and squared error learns the same subspace. With "
        "nonlinear layers it can bend its code around the data, so at the same code size it "
        "should rebuild images better.",
        Question(
            "With the same 2 numbers per image, who reconstructs better?",
            ("The autoencoder", "PCA: it is optimal", "They tie"),
            0,
            "PCA is only optimal among linear maps; the nonlinear autoencoder beats it at the "
            "same code size (the error table shows by how much).",
        ),
    ),
    Step(
        "The AE's map and its holes",
        "holes",
        "Each image's code is a point on the map. A plain AE is trained only to rebuild its "
        "training images, so nothing tells it what to do away from them: decode a point there "
        "and you may get garbage. The colour measures trust: decode a point, encode the image "
        "again, and see how far from the point it comes back. Where the model understands its "
        "own images, the round trip ends where it started.",
        Question(
            "Where on the AE's map do you expect the round trip to fail?",
            (
                "Inside the clusters of data",
                "Away from the data: past its edges and in empty corners",
                "Nowhere: a decoder can decode any point",
            ),
            1,
            "The red is where no training code lies: the decoder was never trained there. "
            "Compare the VAE's map: its decoder draws blurred averages that come back nearer "
            "the centre, so its colour tells about that pull too (the readout gives both "
            "shares).",
        ),
    ),
    Step(
        "The VAE encodes a region, not a point",
        "ellipses",
        "A VAE's encoder outputs a mean and a spread for each image: a small Gaussian cloud in "
        "latent space. Training samples a code from it with the reparameterization trick, "
        "z = mu + sigma * eps, so gradients flow through mu and sigma, and adds a KL term that "
        "pulls every cloud towards the prior N(0, I). The ellipses are those clouds.",
        Question(
            "Why does the VAE sample z = mu + sigma * eps instead of drawing z directly?",
            (
                "It is faster",
                "To make the codes sparse",
                "So that gradients can flow through mu and sigma",
            ),
            2,
            "The randomness sits in eps, outside the network, so the sample is a differentiable "
            "function of mu and sigma: the reparameterization trick.",
        ),
    ),
    Step(
        "How training builds the map",
        "timelapse",
        "Watch both maps as training runs. At first every image lands near the same place; "
        "then classes separate. The AE spreads them wherever reconstruction wants; the VAE's "
        "KL term keeps pulling its codes back towards the centre, into one dense cloud.",
        Question(
            "During training, what does the KL term do to the VAE's map?",
            (
                "Keeps the codes packed around the origin",
                "Pushes the clusters far apart",
                "Nothing visible",
            ),
            0,
            "The VAE's codes stay packed near N(0, I) while the AE's drift wherever they like.",
        ),
    ),
    Step(
        "Sampling from the prior",
        "prior_samples",
        "A VAE is trained so that its codes look like draws from N(0, I). So we can draw a new "
        "code from N(0, I), decode it, and get a new image that was never in the data. An AE "
        "was never asked for that: the same draws can land where no training face lies. This "
        "step uses the generated faces and their shipped AE and VAE (32-D codes).",
        Question(
            "Decode 16 random draws from N(0, I). Which model gives faces?",
            ("The AE", "The VAE", "Neither: both give noise"),
            1,
            "The VAE's draws decode to faces never seen in the data: its codes were pulled "
            "towards N(0, I), where the draws land. The AE's decode to grey smears: its codes "
            "follow no prior, and the draws land off them. Over 2,000 draws, the AE's samples "
            "are 5x further from real faces than the VAE's (docs/benchmarks.md, Default models).",
        ),
        dataset="faces",
    ),
    Step(
        "Interpolation",
        "interpolation",
        "Walk in a straight line from one image's code to another's and decode every step. In "
        "a continuous latent space, nearby points decode to similar images, so the walk morphs "
        "one image into the other.",
        Question(
            "Walking from a 0 to a 1, what do the middle steps look like in the VAE?",
            (
                "A gradual morph, possibly through other digits",
                "A sudden jump from 0 to 1",
                "Blank images",
            ),
            0,
            "The VAE's path changes gradually; the AE's can jump or pass through garbage where "
            "the path crosses a hole.",
        ),
    ),
    Step(
        "The beta dial",
        "beta_dial",
        "The VAE's loss is reconstruction plus beta times KL. Beta 0 is an AE with noise: sharp "
        "reconstructions, a map with gaps. A large beta packs everything into the prior: a "
        "smooth map, blurry images, and latent dimensions that stop carrying information "
        "(inactive units, posterior collapse).",
        Question(
            "Turn beta up from 1 to 4. What happens to the reconstructions?",
            ("They get sharper", "No change", "They get blurrier"),
            2,
            "More weight on KL means less on reconstruction: the images blur, the KL drops, "
            "and fewer latent units stay active.",
        ),
    ),
    Step(
        "Concept vectors: the smile",
        "smile",
        "In a well-structured latent space, directions mean something. The average code of "
        "smiling faces minus the average code of the others is a smile vector; adding it to a "
        "face's code, z + alpha * v, makes that face smile. This step uses the generated faces.",
        Question(
            "Add the smile vector to a frowning face. What else changes?",
            (
                "Nothing else at all",
                "Mostly the mouth; sometimes other features too",
                "The whole face becomes someone else",
            ),
            1,
            "The mouth curves up; features that go together with smiling in the data can move "
            "with it, which is why the Concepts page reports what else a vector changes.",
        ),
        dataset="faces",
    ),
    Step(
        "Fake detection",
        "fakes",
        "A model of a population rebuilds what looks like its training data well and anything "
        "else badly. The reconstruction error (for the VAE, the negative ELBO) is then an "
        "anomaly score: high for images unlike the data, which can help flag fakes.",
        Question(
            "Show a digits model a scrambled image. Where does its error land?",
            (
                "Among the usual digits",
                "Below every digit's error",
                "Far to the right of the data's histogram",
            ),
            2,
            "Out-of-distribution images reconstruct badly: their scores sit in the tail, and "
            "the ROC curve measures how well the score separates them.",
        ),
    ),
)


def step_number(raw: str | None, n_steps: int = len(STEPS)) -> int | None:
    """The 1-based step a ?lesson= value asks for, or None when it is not one (empty, not a
    number, out of range, too long)."""
    if raw is None or not 0 < len(raw) <= MAX_STEP_PARAM or not raw.isascii():
        return None
    if not raw.isdigit():
        return None
    number = int(raw)
    return number if 1 <= number <= n_steps else None


def reconstruction_errors(pair: ModelPair) -> dict[str, float]:
    """Mean squared error per pixel of the AE, the VAE and PCA (same code size) on the plotted
    points' images."""
    x = pair.flat_images()
    errors = {
        kind.upper(): float(
            np.mean((pair.decode(kind, pair.codes[kind]).reshape(x.shape) - x) ** 2)
        )
        for kind in KINDS
    }
    pca = np.clip(pair.pca.inverse_transform(pair.pca.transform(x)), 0, 1)
    errors["PCA"] = float(np.mean((pca - x) ** 2))
    return errors


def smile_alpha(pair: ModelPair, attribute: str = "Smiling") -> float:
    """Where the smile step's alpha starts: the VAE's group gap along the attribute's
    mean-difference vector (concepts.gap_alpha), as on the Concepts page."""
    codes, y = pair.codes["vae"], pair.attribute_values(attribute)
    return gap_alpha(codes, np.arange(len(y)), y, direction(codes, y))


def smile_edits(
    pair: ModelPair, kind: str, alpha: float, n_faces: int, attribute: str = "Smiling"
) -> tuple[np.ndarray, np.ndarray]:
    """The kind's decodes of the first n_faces plotted faces without the attribute, before and
    after adding alpha spreads of the attribute's mean-difference vector: two (n, C, H, W)."""
    codes, y = pair.codes[kind], pair.attribute_values(attribute)
    u = direction(codes, y)
    rows = np.flatnonzero(y == 0)[:n_faces]
    moved = np.stack([edit(codes[r], u, spread(codes, u), [alpha])[0] for r in rows])
    return pair.decode(kind, codes[rows]), pair.decode(kind, moved)
