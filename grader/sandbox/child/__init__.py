"""The untrusted side: run in the sandbox, never imported by the grader
(except wire.py, the line format both sides share)."""
