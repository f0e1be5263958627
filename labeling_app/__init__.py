"""The Streamlit labeling app: task queues, labeling forms, review and agreement."""
