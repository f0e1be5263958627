"""Ingest: traffic logs in any supported format -> bronze tables, rejected records -> quarantine."""
