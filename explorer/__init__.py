"""Latent Explorer: core/ (pure latent math and figures), server/ (jobs and the runs folder,
no Streamlit), ui/ (the Streamlit glue and components) and views/ (the pages)."""
