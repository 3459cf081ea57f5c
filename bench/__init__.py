"""`make bench`: serving latency and throughput against the encoder's own cost (see run.py)."""
