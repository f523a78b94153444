"""Persisted runs: the orchestrator, the checkpointers and the seed's files under `base_path`."""
