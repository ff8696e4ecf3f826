"""Model format v1: schema, loading with located errors, compilation to arrays."""
