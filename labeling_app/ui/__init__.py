"""The Streamlit pages of the labeling app. Imported only by `app.py` (Streamlit is imported here)."""
