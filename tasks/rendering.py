"""The Jinja2 environment of the package's HTML templates (``tasks/templates/``): the run report
and the review page render through this one environment, autoescaped."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).resolve().parent / "templates"), autoescape=select_autoescape(["html"])
)
