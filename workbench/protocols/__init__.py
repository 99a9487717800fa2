"""Evaluation protocols: the simulated user (clicks) and semi-supervised VOS."""
