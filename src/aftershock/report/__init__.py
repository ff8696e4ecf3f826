"""Renderers: results in, text / HTML / Markdown / JSON / JUnit out."""
