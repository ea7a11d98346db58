"""Rubrics shipped with backprop-grader (YAML) and the schema they follow."""
