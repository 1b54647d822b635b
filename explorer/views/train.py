"""Train: fit an AE and a VAE side by side in the background, with live loss curves."""

import streamlit as st

from explorer.core import figures
from explorer.server.jobs import JobLimitError, JobSpec
from explorer.ui import resources, state
from training.config import ARCHITECTURES

st.title("Train an AE and a VAE side by side")
st.caption(
    "Both models get the same data in the same order, the same seed and the same architecture: "
    "the only difference is the VAE's sampling and its KL term, weighted by beta. "
    "Reconstruction alone gives clusters with gaps; KL alone gives one blob that means "
    "nothing; both together give a dense, smooth map."
)
choices = resources.dataset_choices()
with st.form("train_form"):
    left, right = st.columns(2)
    name = left.selectbox("Dataset", list(choices), key="train_dataset")
    arch = right.selectbox("Architecture", ["default", *ARCHITECTURES], key="train_arch")
    latent_dim = left.number_input("Latent size (0 = 2, or 32 for faces)", 0, 64, 0,
                                  key="train_latent")  # fmt: skip
    epochs = right.number_input("Epochs (0 = automatic)", 0, 1000, 0, key="train_epochs")
    beta = left.slider("beta (weight of the VAE's KL term)", 0.0, 10.0, 1.0, 0.1, key="train_beta")
    noise = right.slider("Denoising AE: input noise", 0.0, 1.0, 0.0, 0.05, key="train_noise")
    sparsity = left.slider("Sparse AE: L1 weight on the code", 0.0, 1.0, 0.0, 0.01,
                           key="train_sparse")  # fmt: skip
    submitted = st.form_submit_button("Train", type="primary")

if submitted:
    spec = JobSpec(
        dataset=name, data_dir=resources.data_root(), arch=None if arch == "default" else arch,
        latent_dim=int(latent_dim) or None, epochs=int(epochs) or None, beta=beta, noise_std=noise,
        sparsity=sparsity,
    )  # fmt: skip
    try:
        state.my_jobs().append(resources.job_manager().start(spec).id)
    except (JobLimitError, ValueError) as e:
        st.error(str(e))


@st.fragment(run_every=1.0)
def job_panel() -> None:
    """Polls the background job: it survives reruns and clicks elsewhere in the app."""
    job = resources.job_manager().get((state.my_jobs() or [""])[-1])
    if job is None:
        return
    job_state = job.state()
    for kind, (step, total) in job_state.progress.items():
        st.progress(step / max(total, 1), text=f"{kind.upper()}: step {step} of {total}")
    if job_state.curves:
        st.plotly_chart(figures.loss_curves(job_state.curves), key="loss_curves")
    if not job_state.done:
        st.caption(f"{job_state.status}...")
        if st.button("Cancel", key="cancel_job"):
            job.cancel()
    elif job_state.status == "finished":
        st.success(f"Finished: run {job_state.id}, saved beside the other runs.")
        if st.button("Open in the maps", type="primary", key="open_run"):
            st.switch_page(
                "views/explore.py",
                query_params={"dataset": job_state.spec.dataset, "models": job_state.id},
            )
    else:
        st.warning(f"{job_state.status.capitalize()}: {job_state.message}")


job_panel()
