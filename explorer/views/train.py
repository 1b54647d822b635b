"""Train: fit an AE and a VAE side by side in the background; every job on the server listed,
with live loss curves and Cancel on this browser's own; the runs folder for the teacher."""

import streamlit as st

from explorer.server.jobs import JobSpec
from explorer.server.slots import JobLimitError
from explorer.ui import jobs_panel, resources, runs_panel, teacher
from training.config import ARCHITECTURES


def train_form() -> JobSpec | None:
    """The training form; the spec to start once Train is pressed, else None."""
    choices = resources.dataset_choices()
    with st.form("train_form"):
        left, right = st.columns(2)
        name = left.selectbox("Dataset", list(choices), key="train_dataset")
        arch = right.selectbox(
            "Architecture",
            ["default", *ARCHITECTURES],
            key="train_arch",
            help="default: mlp for small grey images, conv for the rest. mlp: fully connected; "
            "conv: convolutions; residual: PCA plus an MLP that learns what PCA misses (quick, "
            "but its AE and VAE sample alike); gru, lstm: recurrent, the image read and drawn "
            "one row at a time (slower to train; decoded on the server).",
        )
        latent_dim = left.number_input(
            "Latent size (0 = 2, or 32 for faces)", 0, 64, 0, key="train_latent"
        )
        epochs = right.number_input("Epochs (0 = automatic)", 0, 1000, 0, key="train_epochs")
        beta = st.number_input(
            "beta (weight of the VAE's KL term; empty = automatic)",
            0.0,
            100.0,
            None,
            0.5,
            key="train_beta",
            placeholder="automatic: 16 for conv, else 1",
        )
        noise = st.slider("Denoising AE: input noise", 0.0, 1.0, 0.0, 0.05, key="train_noise")
        sparsity = st.slider(
            "Sparse AE: L1 weight on the code", 0.0, 1.0, 0.0, 0.01, key="train_sparse"
        )
        if not st.form_submit_button("Train", type="primary"):
            return None
    return JobSpec(
        dataset=name,
        data_dir=resources.data_root(),
        arch=None if arch == "default" else arch,
        latent_dim=int(latent_dim) or None,
        epochs=int(epochs) or None,
        beta=beta,
        noise_std=noise,
        sparsity=sparsity,
    )


st.header("Train an AE and a VAE side by side")
st.caption(
    "Both models get the same data in the same order, the same seed and the same architecture: "
    "the only difference is the VAE's sampling and its KL term, weighted by beta. "
    "Reconstruction alone gives clusters with gaps; KL alone gives one blob that means "
    "nothing; both together give a dense, smooth map."
)
# The form beside the job list: what a click on Train starts is in view at once.
form_column, jobs_column = st.columns([1, 1.3], gap="large")
with form_column:
    if teacher.allowed("train models"):
        refusal = st.empty()  # above the form: at 1280x720 its foot is below the fold
        try:
            spec = train_form()
            if spec is not None:
                jobs_panel.start(spec)
        except (JobLimitError, ValueError) as e:  # the cap names the jobs holding the slots
            refusal.error(str(e))
with jobs_column:
    jobs_panel.job_list()
    runs_panel.runs_list()
