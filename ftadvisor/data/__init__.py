"""The dataset toolkit: read, validate, count, deduplicate, check, split and convert JSONL datasets."""
