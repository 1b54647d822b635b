"""The explorer's pure core: latent math, selected points, concept vectors and their checks and
JSON, figures, display images and the model pair. No Streamlit and nothing from the app: any
front end can call it and any test can check it in milliseconds."""
