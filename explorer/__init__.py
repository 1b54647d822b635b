"""Latent Explorer app: latent math, figures, images, background jobs and the Streamlit glue."""
