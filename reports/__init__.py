"""Scorecard rendering: JSON (the contract), Markdown, HTML, SARIF 2.1.0 and JUnit XML."""
