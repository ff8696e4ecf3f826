"""Static analysis of a compiled dependency graph."""
