"""The browser wing: the JavaScript and CSS the pages run, and the Python that packs data for
them (the decoders' bundle, the live panel's data, the standalone page, the joined module). It
imports only explorer.core, never Streamlit or the app: a test pins it."""
