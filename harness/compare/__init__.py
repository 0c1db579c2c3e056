"""Comparisons: statistics over seeds, the regression gate between two results directories, and
its outputs (Markdown, JSON, JUnit XML) and history."""
