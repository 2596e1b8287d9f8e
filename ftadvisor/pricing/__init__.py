"""The dated, sourced price catalogue: prices, limits, encodings and lifetimes per model."""

from ftadvisor.pricing.catalogue import Catalogue, ModelEntry, load_catalogue

__all__ = ["Catalogue", "ModelEntry", "load_catalogue"]
