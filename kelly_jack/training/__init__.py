"""Offline training of the emotion model: corpus rendering, features, the numpy MLP, export, evaluation.

Nothing here runs in the live client. Every feature the trainer and the
evaluator see comes from ``features.clip_features`` (the package's own
extractor, windowed like the live path), so a new extractor needs one edit there.
"""
