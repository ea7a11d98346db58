"""For instructors: release, validate, and the Gradescope autograder builder."""
