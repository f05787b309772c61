"""Clips: io (read, limits, write with sound), analysis (faces tracked through a clip), outputs (CSV, JSON, plot)."""
