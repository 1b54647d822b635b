"""Latent Explorer: `python -m streamlit run explorer/app.py` from the repository root.

The pages live in views/, not pages/: Streamlit would also list a pages/ folder on its own.
"""

import torch

# One thread per request keeps decoding at milliseconds while a training job runs; the same for
# NumPy's BLAS, whose two threads made each logistic fit of a report card 5x slower (docs/design.md,
# Design notes).
torch.set_num_threads(1)

import streamlit as st  # noqa: E402  (after the thread setting, which must come first)

from explorer.ui import resources, teacher  # noqa: E402

resources.limit_threads()
resources.disable_nagle()

# An empty or padded key stops the server, else the log says which key is in force: before any
# other st call, which raises Streamlit's stop where the browser has already left.
teacher.check_setting()
st.set_page_config(page_title="Latent Explorer", layout="wide")
navigation = st.navigation(
    [
        st.Page("views/explore.py", title="Explore", icon=":material/map:", default=True),
        st.Page("views/generate.py", title="Generate", icon=":material/casino:"),
        st.Page("views/concepts.py", title="Concepts", icon=":material/sentiment_satisfied:"),
        st.Page("views/instruments.py", title="Instruments", icon=":material/science:"),
        st.Page("views/lesson.py", title="Lesson", icon=":material/school:"),
        st.Page("views/train.py", title="Train", icon=":material/model_training:"),
    ]
)
teacher.sidebar()  # collapsed, and only where a teacher key is set
navigation.run()
