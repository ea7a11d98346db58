"""Judging: draw inputs, ask the student's gates (probe), compare with the
reference (checks), name mistakes, add up the score."""
