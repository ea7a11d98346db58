"""backprop-grader: grades backpropagation exercises safely.

Data flow: submission -> load -> sandbox -> probe -> check -> score -> report.
"""
__version__ = "0.1.0"
