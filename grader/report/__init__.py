"""Reporting: results.json, text, JUnit, Markdown and the HTML class report."""
