"""Confinement applied inside the child before any student code runs.

Standalone like child.py: it imports nothing from the grader.
"""
import os
import resource

MiB = 1 << 20


def _set(which, soft, hard=None):
    try:
        resource.setrlimit(which, (soft, soft if hard is None else hard))
    except (ValueError, OSError):
        pass  # not supported here (e.g. RLIMIT_AS on macOS)


def _virtual_size():
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def confine(config):
    """Apply the limits; return a plain description of the isolation used."""
    limits = config["limits"]
    _set(resource.RLIMIT_CORE, 0)
    _set(resource.RLIMIT_FSIZE, limits["file_size_mb"] * MiB)
    _set(resource.RLIMIT_NOFILE, limits["open_files"])
    _set(resource.RLIMIT_CPU, limits["load_cpu_seconds"],
         limits["load_cpu_seconds"] + limits["cpu_seconds"] + 5)
    if limits["memory_mb"]:
        _set(resource.RLIMIT_AS, _virtual_size() + limits["memory_mb"] * MiB)
    return {"tier": 1, "layers": ["child process", "rlimits"]}


def limit_check(limits):
    """Per check: a fresh CPU budget for the forked child."""
    hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
    _set(resource.RLIMIT_CPU, min(limits["cpu_seconds"], hard), hard)
