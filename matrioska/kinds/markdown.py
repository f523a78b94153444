"""The Markdown kind: documentation (README.md, docs/*.md); nothing to check beyond it existing."""

from __future__ import annotations

from .base import Kind


class MarkdownKind(Kind):
    name = "markdown"
    description = "Documentation in Markdown (.md): README, usage, design notes"
    suffixes = (".md", ".markdown")
    guide = "Markdown: document how to install, run and test the project with the exact commands."
