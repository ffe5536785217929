"""The benchmark: ``python -m bench.bench`` (``make bench``) and its ingest sink, ``bench.sink``."""
