"""Entry script for `streamlit run` (see `flywheel label serve`); the pages live in labeling_app.ui."""

from labeling_app.ui.main import main

main()
