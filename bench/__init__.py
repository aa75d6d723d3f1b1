"""Benchmarks (``make bench``): generation, ingestion and its bare-DuckDB floor."""
