"""Explaining synthetic data: diversity metrics, coverage and imbalance, embedding projections."""
