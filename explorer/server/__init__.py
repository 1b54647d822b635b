"""The app's server side without Streamlit: background training jobs, the runs folder on disk,
the server's sockets. Plain Python, tested without an app."""
