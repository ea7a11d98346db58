"""The student kit end to end, as people get it, in fresh virtual environments.

Once per session (the slow part, about a minute):
- an instructor's environment: a plain (not editable) `pip install` of a copy of
  this checkout, which builds the kits (`bpgrade release`) of both shipped
  assignments and of tests/gates/instructor/, and the Gradescope zip;
- a student's environment: only what a student installs, the wheel a kit carries
  (dependencies from the machine's local package index when it has one).

Then: correct submissions pass the kit's visible checks offline, wrong ones fail
them with named mistakes, `pytest --bpgrade` works without flags, and no
reference backward or hidden item is anywhere in a kit or the student's
environment; the Gradescope zip from the plain install grades a correct and a
wrong submission in an /autograder-like folder.
"""
import json
import os
import re
import shutil
import concurrent.futures
import importlib.metadata
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import backprop_grader

ROOT = Path(__file__).parent.parent
MIRRORS = [Path("/opt/pypi/simple"), Path("/opt/pypi-more/simple")]
KITS = {"gates": ROOT / "assignments" / "gates", "sigmoid-neuron": ROOT / "assignments" / "sigmoid-neuron",
        "tanh": ROOT / "tests" / "gates" / "instructor"}


def pip_index():
    found = [m for m in MIRRORS if m.is_dir()]
    if not found:
        return []
    return ["--index-url", found[0].as_uri()] + [a for m in found[1:] for a in ("--extra-index-url", m.as_uri())]


def venv(path):
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=300)
    return path / "bin"


def run(cmd, timeout=600, **kw):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON", "BPGRADE_SECRET"))}
    env.update(kw.pop("env", {}))
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=timeout, env=env, **kw)


def ok(proc):
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    return proc


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("kit-world")
    # meanwhile: the student's venv with the grader's dependencies (the kit's wheel comes later)
    deps = [r for r in importlib.metadata.requires("backprop-grader") if "extra ==" not in r]
    making_student = subprocess.Popen(["bash", "-c", '"$0" -m venv "$1" && "$1/bin/python" -m pip install -q "${@:2}"',
                                       sys.executable, str(base / "student")] + pip_index() + deps,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if Path(backprop_grader.__file__).resolve().is_relative_to(ROOT):  # an editable install: make a plain one
        src = base / "checkout"
        src.mkdir()
        for name in ("pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, src / name)
        for name in ("grader", "reference", "rubrics"):
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        teacher = venv(base / "teacher")
        ok(run([teacher / "python", "-m", "pip", "install", "-q"] + pip_index() + [str(src)], cwd=base))
    else:  # this environment is already a plain `pip install .` (as in CI): the instructor's
        teacher = Path(sys.executable).parent
    kits = {name: base / "kits" / name for name in KITS}
    with concurrent.futures.ThreadPoolExecutor(len(KITS)) as pool:  # independent releases
        for proc in pool.map(lambda name: run([teacher / "bpgrade", "release", KITS[name], "-o", kits[name]],
                                              cwd=base), KITS):
            ok(proc)
    assert making_student.wait(timeout=300) == 0
    student = base / "student" / "bin"
    (wheel,) = (kits["gates"] / ".bpgrade" / "wheels").glob("*.whl")
    ok(run([student / "python", "-m", "pip", "install", "-q"] + pip_index() + [str(wheel)], cwd=base))
    return {"base": base, "teacher": teacher, "student": student, "kits": kits}


def in_kit(world, name, files):
    """A copy of kit `name` with the student's files in it."""
    work = world["base"] / "work" / ("%s-%d" % (name, len(list((world["base"] / "work").glob("*")))
                                          if (world["base"] / "work").exists() else 0))
    shutil.copytree(world["kits"][name], work)
    for rel, text in files.items():
        (work / rel).write_text(text)
    return work


def mutate(path, *pairs):
    text = path.read_text()
    for old, new in zip(pairs[::2], pairs[1::2]):
        assert old in text
        text = text.replace(old, new)
    return text


CASES = {  # kit: (file, correct text, wrong text, the mistake named)
    "gates": ("gates.ipynb", (KITS["gates"] / "source.ipynb").read_text(),
              mutate(KITS["gates"] / "source.ipynb", "dx = self.y * dz", "dx = self.y",
                     "dy = self.x * dz", "dy = self.x"), "forgot_upstream"),
    "sigmoid-neuron": ("neuron.py", (KITS["sigmoid-neuron"] / "neuron.py").read_text(),
                       mutate(KITS["sigmoid-neuron"] / "neuron.py", "dx = self.s * (1.0 - self.s) * dz",
                              "dx = -self.s * (1.0 - self.s) * dz"), "sign_error"),
    "tanh": ("tanh.py", (KITS["tanh"] / "tanh.py").read_text(),
             mutate(KITS["tanh"] / "tanh.py", "dx = (1.0 - self.t ** 2) * dz", "dx = (1.0 - self.t ** 2)"),
             "forgot_upstream"),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_kit_checks_offline_in_the_students_environment(world, name):
    file, good, bad, mistake = CASES[name]
    bpgrade = world["student"] / "bpgrade"
    work = in_kit(world, name, {file: good})
    proc = ok(run([bpgrade, "check", file, "--format", "json", "--fail-under", "100%"], cwd=work))
    data = json.loads(proc.stdout)
    assert data["score"] == data["max_score"] > 0 and data["tests"]
    assert "the student kit for" in proc.stderr  # it says which rubric it used
    assert data["extra_data"]["hidden"]["checks"] == 0
    work = in_kit(world, name, {file: bad})
    proc = ok(run([bpgrade, "check", file, "--format", "json"], cwd=work))
    data = json.loads(proc.stdout)
    assert data["score"] < data["max_score"]
    named = {t["extra_data"].get("mistake") for t in data["tests"] if t["status"] != "passed"}
    assert mistake in named, named
    text = ok(run([bpgrade, "check", file], cwd=work)).stdout
    assert "mistake:" in text and "expected:" in text


def test_pytest_bpgrade_from_a_plain_student_install(world):
    file, good, _, _ = CASES["gates"]
    work = in_kit(world, "gates", {file: good})
    proc = run([world["student"] / "pytest", "--bpgrade", file, "-p", "no:cacheprovider"], cwd=work)
    assert proc.returncode == 0, proc.stdout[-2000:]
    assert re.search(r"rubric .*rubric\.yaml", proc.stdout) and " passed" in proc.stdout


def written_backward_lines(folder):
    """The lines of the reference backward of each gate the assignment in `folder` asks
    students to write (not given by its rubric)."""
    import yaml
    data = yaml.safe_load((folder / "rubric.yaml").read_text())
    given = set(data.get("given", []))
    lines = set()
    for gate, spec in data["gates"].items():
        if gate in given or gate + ".backward" in given:
            continue
        target, _, cls = spec["reference"].rpartition(":")
        path = folder / target if target.endswith(".py") else ROOT / (target.replace(".", "/") + ".py")
        body = re.search(r"class %s\b.*?def backward\(self[^)]*\):\n(.*?)(?=\n    def |\nclass |\Z)" % cls,
                         path.read_text(), re.S)
        assert body, (path, cls)
        lines |= {line.strip() for line in body.group(1).splitlines()
                  if len(line.strip()) > 12 and not line.strip().startswith(("#", '"""'))}
    assert lines
    return lines


def hidden_items(folder):
    import yaml
    return {text for check in yaml.safe_load((folder / "rubric.yaml").read_text())["checks"]
            if check.get("visibility", "visible") != "visible" for text in (check["id"], check["name"])}


def contents(place):
    for path in place.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix in (".whl", ".zip"):
                with zipfile.ZipFile(path) as zf:
                    assert not any(n.startswith("reference/") for n in zf.namelist())
                    data = b"\n".join(zf.read(n) for n in zf.namelist())
            yield path, data


def test_nothing_a_student_gets_holds_a_reference_backward_or_a_hidden_item(world):
    student_site = next((world["base"] / "student" / "lib").glob("python*/site-packages"))
    everything = set()
    for name, folder in KITS.items():
        secrets = written_backward_lines(folder) | hidden_items(folder)
        everything |= secrets
        for path, data in contents(world["kits"][name]):
            for secret in secrets:
                assert secret.encode() not in data, (path, secret)
    assert "graph-random" in everything and "return [1.0 * dz, 1.0 * dz]" in everything
    for path, data in contents(student_site):
        for secret in everything:
            assert secret.encode() not in data, (path, secret)
    assert not (student_site / "reference").exists()
    probe = run([world["student"] / "python", "-c", "import reference"], cwd=world["base"])
    assert probe.returncode != 0


def test_gradescope_zip_from_a_plain_install(world, tmp_path):
    secret = tmp_path / "course.secret"
    secret.write_text("kit-test-secret-0123456789abcdef\n")
    secret.chmod(0o600)
    ok(run([world["teacher"] / "bpgrade", "gradescope-package", KITS["gates"], "-o", tmp_path / "ag.zip",
            "--secret", secret], cwd=tmp_path))
    for label, (text, full) in {"good": (CASES["gates"][1], True), "bad": (CASES["gates"][2], False)}.items():
        root = tmp_path / label
        with zipfile.ZipFile(tmp_path / "ag.zip") as zf:
            zf.extractall(root / "source")
            assert zf.read("rubric.yaml") == (KITS["gates"] / "rubric.yaml").read_bytes()
        shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
        (root / "submission").mkdir()
        (root / "submission" / "gates.ipynb").write_text(text)
        (root / "submission_metadata.json").write_text(json.dumps({"id": 1, "users": [{"email": "a@b.edu"}]}))
        elsewhere = tmp_path / "elsewhere"
        elsewhere.mkdir(exist_ok=True)
        env = {"BPGRADE_AUTOGRADER_ROOT": "../" + label, "BPGRADE_PYTHON": str(world["teacher"] / "python")}
        proc = ok(run(["bash", root / "run_autograder"], cwd=elsewhere, env=env))
        data = json.loads((root / "results" / "results.json").read_text())
        assert (data["score"] == 100) is full, (proc.stdout, data.get("output"))
        assert any(t["visibility"] == "hidden" for t in data["tests"])  # Gradescope grades the hidden items
