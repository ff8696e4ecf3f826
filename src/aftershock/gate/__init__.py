"""The CI gate: policies (what a model must hold) and `check` (does it hold them)."""
