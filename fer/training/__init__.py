"""The training side: crop cache, mixes, the loop, evaluation, calibration, release (never imported by the core)."""
