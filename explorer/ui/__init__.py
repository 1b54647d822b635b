"""The Streamlit glue: session state, cached resources, the sidebar, the selected point, uploads,
the click component and the pages' panels. Only this package and the pages import Streamlit."""
