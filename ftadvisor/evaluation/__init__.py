"""Evaluation of base and fine-tuned models on held-out data."""
