"""bpgrade gradescope-package: the zip, setup.sh, and run_autograder in a fake /autograder.

One package is built per module (building the wheel takes a few seconds); each
test unzips it into its own folder laid out like Gradescope's /autograder:

    ROOT/source/...              the zip's contents
    ROOT/run_autograder          copied from source/, as Gradescope does
    ROOT/submission/             the student's files
    ROOT/submission_metadata.json
    ROOT/results/results.json    written by run_autograder

run_autograder is told where ROOT is with $BPGRADE_AUTOGRADER_ROOT and which
Python to use with $BPGRADE_PYTHON (this test environment's, which has the
grader installed); setup.sh is run for real against a prepared virtual
environment whose dependencies come from this environment, with no index.
"""
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from backprop_grader import cli as cli_module
from backprop_grader.authoring import wheel as wheels
from backprop_grader import load
from backprop_grader.report import results as report
from backprop_grader.judge import rubric, score, seeds

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
SHORT = DATA / "rubrics" / "batch_short.yaml"
GOOD = (DATA / "good.py").read_text()
FORGOT_DZ = (DATA / "forgot_dz.py").read_text()
SECRET = "gradescope-test-secret-0123456789"
SPEC_STATUSES = {"passed", "failed"}
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


def notebook(source):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Gates"), nbformat.v4.new_code_cell(source)]
    return nbformat.writes(nb)


def write_secret(folder):
    p = Path(folder) / "course.secret"
    p.write_text(SECRET + "\n")
    p.chmod(0o600)
    return p


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The grader's wheel, built once from the installed package files."""
    return wheels.build(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def package(tmp_path_factory, wheel):
    """autograder.zip for the short rubric, built through the CLI with the prebuilt wheel."""
    base = tmp_path_factory.mktemp("package")
    secret = write_secret(base)
    out = base / "autograder.zip"
    code = cli_module.main(["gradescope-package", "--rubric", str(SHORT), "-o", str(out),
                            "--secret", str(secret), "--wheel", str(wheel)])
    assert code == 0
    return out


def unpack(zip_path, root):
    """Lay out ROOT like Gradescope: source/ holds the zip, run_autograder is copied up."""
    root = Path(root)
    source = root / "source"
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            target = source / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(zf.read(info))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                target.chmod(mode)
    shutil.copy2(source / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    return root


def submit(root, files, users=({"email": "ada@example.edu", "id": 11, "name": "Ada L"},), sub_id=4242):
    for rel, text in files.items():
        p = root / "submission" / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    if users is not None:
        (root / "submission_metadata.json").write_text(json.dumps(
            {"id": sub_id, "created_at": "2024-01-01T00:00:00", "users": list(users),
             "assignment": {"id": 1, "title": "Gates"}, "previous_submissions": []}))


def run_autograder(root, timeout=120):
    env = dict(os.environ, BPGRADE_AUTOGRADER_ROOT=str(root), BPGRADE_PYTHON=sys.executable)
    env.pop("BPGRADE_SECRET", None)
    env.pop("BPGRADE_SECRET_FILE", None)
    proc = subprocess.run(["bash", str(root / "run_autograder")], cwd="/", env=env,
                          capture_output=True, text=True, timeout=timeout)
    results = root / "results" / "results.json"
    data = json.loads(results.read_text()) if results.exists() else None
    return proc, data


def check_spec(data):
    """The fields Gradescope reads have the types its spec gives."""
    assert isinstance(data["score"], (int, float))
    assert isinstance(data["execution_time"], (int, float))
    assert isinstance(data.get("output", ""), str)
    assert data.get("visibility", "visible") in VISIBILITIES
    for t in data["tests"]:
        assert isinstance(t["name"], str) and t["name"]
        assert isinstance(t["score"], (int, float)) and isinstance(t["max_score"], (int, float))
        assert t["status"] in SPEC_STATUSES
        assert t.get("visibility", "visible") in VISIBILITIES
        assert isinstance(t.get("output", ""), str)
        assert all(isinstance(tag, str) for tag in t.get("tags", []))
    json.dumps(data)  # plain JSON all the way down


# ------------------------------------------------------------------ the zip

def test_zip_layout_and_modes(package, wheel):
    with zipfile.ZipFile(package) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        assert set(infos) == {"setup.sh", "run_autograder", "batch_short.yaml", "course.secret",
                              "bpgrade.json", "wheels/" + wheel.name}
        mode = {n: (i.external_attr >> 16) & 0o777 for n, i in infos.items()}
        assert mode["setup.sh"] == 0o755 and mode["run_autograder"] == 0o755
        assert mode["course.secret"] == 0o600
        assert zf.read("batch_short.yaml") == SHORT.read_bytes()  # byte for byte: same sha256
        assert zf.read("course.secret").strip() == SECRET.encode()
        config = json.loads(zf.read("bpgrade.json"))
        for script in ("setup.sh", "run_autograder"):
            text = zf.read(script).decode()
            assert text.startswith("#!/usr/bin/env bash\n") and "\r" not in text
            assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0
    rub = rubric.load(SHORT)
    assert config["rubric"] == "batch_short.yaml" and config["rubric_sha256"] == rub.sha256
    assert config["assignment"] == "batch-demo" and config["wheel"] == "wheels/" + wheel.name
    assert config["secret_fingerprint"] == seeds.Secret(SECRET.encode(), "test").fingerprint
    assert stat.S_IMODE(package.stat().st_mode) == 0o600  # the zip holds the secret


def test_wheel_holds_the_grader_and_its_data(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    for needed in ("authoring/gradescope.py", "report/html.py", "sandbox/child/child.py",
                   "reference/gates.py", "rubrics/gates.yaml", "rubrics/rubric.schema.json"):
        assert "backprop_grader/" + needed in names
    # the distribution claims one import name, its own
    assert {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")} == {"backprop_grader"}
    assert not any(n.startswith(("tests/", "build/")) for n in names)
    assert "Requires-Dist: numpy" in meta and "Requires-Dist: nbconvert" in meta


def test_package_writes_nothing_until_it_can_succeed(tmp_path, monkeypatch):
    """No course.secret (and no zip) is left behind by a package that cannot be built."""
    monkeypatch.chdir(tmp_path)
    for k in ("BPGRADE_SECRET", "BPGRADE_SECRET_FILE"):
        monkeypatch.delenv(k, raising=False)
    assert cli_module.main(["gradescope-package", "--rubric", "nope.yaml"]) == 2
    assert cli_module.main(["gradescope-package", "--wheel", "missing.whl"]) == 2
    assert cli_module.main(["gradescope-package", "--requirements", "missing.txt"]) == 2
    assert list(tmp_path.iterdir()) == []


def test_assignment_rubric_and_requirements_by_default(tmp_path, monkeypatch, wheel):
    assignment = tmp_path / "a"
    shutil.copytree(ROOT / "assignments" / "gates", assignment)
    (assignment / "requirements.txt").write_text("matplotlib\n")
    secret = write_secret(tmp_path)
    monkeypatch.chdir(assignment)
    assert cli_module.main(["gradescope-package", "--secret", str(secret), "--wheel", str(wheel)]) == 0
    with zipfile.ZipFile(assignment / "autograder.zip") as zf:
        assert zf.read("rubric.yaml") == (assignment / "rubric.yaml").read_bytes()
        assert zf.read("requirements.txt") == b"matplotlib\n"
    monkeypatch.chdir(tmp_path)
    assert cli_module.main(["gradescope-package", str(assignment), "-o", "b.zip", "--secret", str(secret),
                            "--wheel", str(wheel)]) == 0
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        assert zf.read("rubric.yaml") == (assignment / "rubric.yaml").read_bytes()
        assert zf.read("requirements.txt") == b"matplotlib\n"
        assert "-r \"$SOURCE/requirements.txt\"" in zf.read("setup.sh").decode()


def test_package_usage_errors(tmp_path, capsys, wheel):
    secret = write_secret(tmp_path)
    cases = [
        (["-o", str(tmp_path)], "is a folder"),
        (["-o", str(tmp_path / "a.zip"), "--rubric", str(tmp_path / "nope.yaml")], "nope.yaml"),
        (["-o", str(tmp_path / "a.zip"), "--wheel", str(tmp_path / "missing.whl")], "no such wheel"),
        (["-o", str(tmp_path / "a.zip"), "--wheel", str(secret)], "not a backprop-grader wheel"),
    ]
    for args, message in cases:
        capsys.readouterr()
        code = cli_module.main(["gradescope-package", "--secret", str(secret)] + args)
        err = capsys.readouterr().err
        assert code == 2, args
        assert message in err, (args, err)
    assert not (tmp_path / "a.zip").exists()


# ------------------------------------------------------------------ run_autograder

def test_run_autograder_grades_with_the_course_secret_seed(package, tmp_path):
    root = unpack(package, tmp_path / "autograder")
    submit(root, {"gates.py": FORGOT_DZ})
    proc, data = run_autograder(root)
    assert proc.returncode == 0, proc.stderr
    check_spec(data)
    rub = rubric.load(SHORT)
    seed = seeds.seed(SECRET.encode(), rub.assignment, "ada@example.edu")
    assert data["extra_data"]["seed"] == seed
    assert data["extra_data"]["student"] == "ada@example.edu"
    assert data["extra_data"]["gradescope_submission"] == 4242
    assert data["extra_data"]["rubric_sha256"] == rub.sha256
    # the same grading as the Python API with that seed (and so as `bpgrade batch`)
    expected = report.gradescope(score.grade(load.load(root / "submission", class_names=list(rub.gates)),
                                             rub, seed=seed))
    assert data["score"] == expected["score"] == 8.0
    assert [(t["name"], t["status"], t["output"]) for t in data["tests"]] == \
        [(t["name"], t["status"], t["output"]) for t in expected["tests"]]
    by_id = {t["extra_data"]["id"]: t for t in data["tests"]}
    assert by_id["mul-backward"]["status"] == "failed"
    assert by_id["mul-backward"]["extra_data"].get("mistake") == "forgot_upstream"
    assert by_id["graph-random"]["visibility"] == "hidden"
    assert "ada@example.edu: 8 / 15" in proc.stdout


def test_run_autograder_full_marks_notebook_group_and_sid(package, tmp_path):
    root = unpack(package, tmp_path / "autograder")
    users = [{"email": "b@x.edu", "id": 1, "name": "B", "sid": "S002"},
             {"email": "a@x.edu", "id": 2, "name": "A", "sid": "S001"}]
    submit(root, {"gates.ipynb": notebook(GOOD), "notes.txt": "hello"}, users=users)
    proc, data = run_autograder(root)
    assert proc.returncode == 0, proc.stderr
    check_spec(data)
    assert data["score"] == data["max_score"] == 15
    assert all(t["status"] == "passed" for t in data["tests"])
    assert data["extra_data"]["student"] == "S002+S001"  # as bpgrade batch names a group
    assert data["extra_data"]["seed"] == seeds.seed(SECRET.encode(), "batch-demo", "S002+S001")
    assert data["extra_data"]["submission"] == "gates.ipynb"


def test_run_autograder_without_metadata_uses_a_random_seed(package, tmp_path):
    seeds_seen = []
    for k in range(2):
        root = unpack(package, tmp_path / ("autograder%d" % k))
        submit(root, {"gates.py": GOOD}, users=None)
        proc, data = run_autograder(root)
        assert proc.returncode == 0, proc.stderr
        assert data["score"] == 15 and data["extra_data"]["student"] is None
        assert data["extra_data"]["seed_from"].startswith("random")
        seeds_seen.append(data["extra_data"]["seed"])
    assert seeds_seen[0] != seeds_seen[1]


def test_run_autograder_broken_and_empty_submissions(package, tmp_path):
    root = unpack(package, tmp_path / "syntax")
    submit(root, {"gates.py": (DATA / "syntax_error.py").read_text()})
    proc, data = run_autograder(root)
    assert proc.returncode == 0 and data["score"] == 0
    check_spec(data)
    assert "SyntaxError" in data["tests"][0]["output"]

    root = unpack(package, tmp_path / "empty")
    submit(root, {})
    proc, data = run_autograder(root)
    assert proc.returncode == 0 and data["score"] == 0
    assert len(data["tests"]) == len(rubric.load(SHORT).items)
    assert "no notebook (.ipynb) or Python module (.py)" in data["tests"][0]["output"]


def test_run_autograder_reports_its_own_failure_in_the_results(package, tmp_path):
    root = unpack(package, tmp_path / "autograder")
    submit(root, {"gates.py": GOOD})
    (root / "source" / "course.secret").unlink()
    proc, data = run_autograder(root)
    assert proc.returncode == 1
    check_spec(data)
    assert data["score"] == 0 and data["tests"] == []
    assert "autograder itself failed" in data["output"] and "course.secret" in data["output"]
    assert "Traceback" in proc.stderr


# ------------------------------------------------------------------ setup.sh

@pytest.fixture(scope="module")
def installed(package, tmp_path_factory):
    """setup.sh run for real: a venv is made, the bundled wheel installed into it, no index used.

    The venv is made beforehand without pip (fast); the dependencies and pip come
    from this environment through a .pth file, everything of this checkout left out,
    so the grader that ends up importable is the wheel's.
    """
    base = tmp_path_factory.mktemp("installed")
    root = unpack(package, base / "autograder")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    deps = base / "deps"
    deps.mkdir()
    for sp in {p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()}:
        for entry in Path(sp).iterdir():
            name = entry.name
            if (name.startswith(("backprop_grader", "__editable__", "_virtualenv")) or
                    name in ("grader", "reference", "rubrics", "__pycache__") or name.endswith(".pth")):
                continue
            if not (deps / name).exists():
                (deps / name).symlink_to(entry)
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "test-deps.pth").write_text(str(deps) + "\n")
    env = dict(os.environ, BPGRADE_AUTOGRADER_ROOT=str(root), BPGRADE_SETUP_PYTHON=sys.executable,
               BPGRADE_SETUP_NO_APT="1", PIP_NO_INDEX="1", PIP_NO_CACHE_DIR="1")
    proc = subprocess.run(["bash", str(root / "source" / "setup.sh")], cwd=str(base), env=env,
                          capture_output=True, text=True, timeout=300)
    return {"root": root, "venv": venv, "proc": proc, "base": base}


def test_setup_sh_installs_the_bundled_wheel(installed):
    proc, venv = installed["proc"], installed["venv"]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "installing the bundled backprop_grader-" in proc.stdout
    probe = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import backprop_grader as g, backprop_grader.authoring.gradescope, importlib.resources as r; "
         "print(g.__file__); print(r.files('backprop_grader.rubrics').joinpath('gates.yaml').is_file())"],
        capture_output=True, text=True, cwd=str(installed["base"]))
    assert probe.returncode == 0, probe.stderr
    where, has_rubric = probe.stdout.split()
    here = Path(load.__file__).resolve().parent.parent
    assert Path(where).resolve().is_relative_to(venv.resolve())  # the wheel's grader, not this checkout
    assert not Path(where).resolve().is_relative_to(here)
    assert has_rubric == "True"


def test_installed_grader_gives_a_correct_submission_full_marks(installed):
    """run_autograder as Gradescope runs it: with the venv setup.sh made (no $BPGRADE_PYTHON).

    Was a grader bug: the grader process imports numpy through a folder a .pth
    file adds to sys.path, but the sandbox child is only given the folders
    isolation.python_roots() names (sys.path entries ending in site-packages), so
    under bubblewrap its own `import numpy` fails before any student code runs.
    The grader then gives every item 0, shows the child's traceback as "Output
    from your code while loading" and records an ordinary grade, not a grader
    failure. Correct: the child sees what the grader imports (full marks here),
    and a child that cannot start its own imports is a grader error.
    """
    assert installed["proc"].returncode == 0
    root = installed["root"]
    submit(root, {"gates.py": GOOD})
    env = dict(os.environ, BPGRADE_AUTOGRADER_ROOT=str(root))
    for k in ("BPGRADE_PYTHON", "BPGRADE_SECRET", "BPGRADE_SECRET_FILE"):
        env.pop(k, None)
    proc = subprocess.run(["bash", str(root / "run_autograder")], cwd="/", env=env,
                          capture_output=True, text=True, timeout=120)
    data = json.loads((root / "results" / "results.json").read_text())
    assert proc.returncode == 0, proc.stderr
    check_spec(data)
    assert data["score"] == 15, data["output"][:600]
