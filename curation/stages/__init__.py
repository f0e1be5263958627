"""One module per pipeline stage; see curation.pipeline.stages for the convention."""
