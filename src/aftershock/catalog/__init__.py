"""Catalog data shipped with aftershock: provider services with their published internal
dependencies (`providers/`, loaded by `catalog.providers`), and incident timelines (`incidents/`)."""
