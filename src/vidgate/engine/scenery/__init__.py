"""Layers of the composed text-to-video scenes (sky, ground, subjects, effects)."""
