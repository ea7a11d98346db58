"""The GitHub Actions template, assignments/gates/.github/workflows/check.yml.

`bpgrade release` copies it into the student repository; this test then runs its `run:`
steps as a runner would (bash -eo pipefail, the workflow's env, $GITHUB_STEP_SUMMARY set)
in that repository, with a fresh Python environment standing in for setup-python:

- "Install the grader" installs a wheel of this checkout. Offline, so pip gets
  PIP_NO_INDEX, PIP_NO_DEPS and PIP_IGNORE_INSTALLED, and the dependencies come from
  this test environment through a .pth file;
- "Check the gates" must append the Markdown table to the step summary, write the JUnit
  file the upload step names, and fail the step under FAIL_UNDER.
The `uses:` steps (checkout, setup-python, upload-artifact) cannot run here; their
settings are checked instead.
"""
import base64
import hashlib
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path

import pytest
import yaml

from grader import cli
from grader.report import formats
from grader.judge import rubric

ROOT = Path(__file__).parent.parent
ASSIGNMENT = ROOT / "assignments" / "gates"
TEMPLATE = ASSIGNMENT / ".github" / "workflows" / "check.yml"


def load_workflow(path):
    data = yaml.safe_load(path.read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def steps(workflow):
    (job,) = workflow["jobs"].values()
    return {s.get("name") or s["uses"].split("@")[0]: s for s in job["steps"]}


def test_template_shape():
    wf = load_workflow(TEMPLATE)
    assert "push" in wf["on"]
    assert wf["defaults"]["run"]["shell"] == "bash"
    env = wf["env"]
    assert env["SUBMISSION"] == "gates.ipynb" and env["FAIL_UNDER"] == "100%"
    s = steps(wf)
    assert list(s) == ["actions/checkout", "actions/setup-python", "Install the grader",
                       "Check the gates", "Upload the JUnit report"]
    upload = s["Upload the JUnit report"]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["if"] == "always()"  # the report is uploaded when the check fails too
    assert upload["with"]["path"] == "${{ env.JUNIT }}"
    check = s["Check the gates"]["run"]
    assert '--junit "$JUNIT"' in check and "--format markdown" in check
    for step in s.values():  # the run steps use plain shell variables: simulated as is
        assert "${{" not in step.get("run", "")


def make_wheel(out_dir):
    """A wheel of this checkout, from what pyproject.toml says (packages, dependencies,
    scripts and entry points), built without setuptools or a network."""
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    meta = project["project"]
    import grader
    name = "backprop_grader-%s" % grader.__version__
    path = out_dir / ("%s-py3-none-any.whl" % name)
    records = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        def add(arcname, data):
            data = data.encode() if isinstance(data, str) else data
            z.writestr(arcname, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            records.append("%s,sha256=%s,%d" % (arcname, digest.decode(), len(data)))
        for package in project["tool"]["setuptools"]["packages"]:
            folder = ROOT.joinpath(*package.split("."))
            for f in sorted(folder.iterdir()):
                if f.is_file() and f.suffix in (".py", ".yaml", ".json"):
                    add(f.relative_to(ROOT).as_posix(), f.read_bytes())
        info = name + ".dist-info"
        add(info + "/METADATA", "Metadata-Version: 2.1\nName: %s\nVersion: %s\n%s" % (
            meta["name"], grader.__version__,
            "".join("Requires-Dist: %s\n" % d for d in meta["dependencies"])))
        add(info + "/WHEEL", "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
                             "Tag: py3-none-any\n")
        groups = dict(meta.get("entry-points", {}), console_scripts=meta["scripts"])
        add(info + "/entry_points.txt", "".join(
            "[%s]\n%s\n" % (group, "".join("%s = %s\n" % kv for kv in entries.items()))
            for group, entries in groups.items()))
        z.writestr(info + "/RECORD", "\n".join(records + [info + "/RECORD,,"]) + "\n")
    return path


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    """A released student repository and a fresh Python environment where the workflow's
    install step has run."""
    tmp = tmp_path_factory.mktemp("gha")
    repo = tmp / "repo"
    code = cli.main(["release", str(ASSIGNMENT), "-o", str(repo),
                     "--student-rubric", str(repo / "rubric.yaml")])
    assert code == 0
    venv = tmp / "python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    site_dir = Path(subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site_dir / "deps-from-tests.pth").write_text("\n".join(sorted(ours)) + "\n")
    wheel = make_wheel(tmp)
    env = dict(os.environ, PATH=str(venv / "bin") + os.pathsep + os.environ["PATH"],
               PIP_NO_INDEX="1", PIP_NO_DEPS="1", PIP_IGNORE_INSTALLED="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", CI="true", GITHUB_ACTIONS="true",
               GITHUB_STEP_SUMMARY=str(tmp / "summary.md"))
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONHOME", None)
    workflow = load_workflow(repo / ".github" / "workflows" / "check.yml")
    env.update({k: str(v) for k, v in workflow["env"].items()})
    env["BPGRADE_PACKAGE"] = str(wheel)  # an instructor's setting: a wheel instead of an index
    state = {"repo": repo, "venv": venv, "env": env, "workflow": workflow, "tmp": tmp}
    proc = run_step(state, "Install the grader")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return state


def run_step(state, name, **env):
    script = steps(state["workflow"])[name]["run"]
    path = state["tmp"] / "step.sh"
    path.write_text(script)
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)],
                          cwd=state["repo"], env=dict(state["env"], **env), capture_output=True,
                          text=True, timeout=300)


def test_release_copies_the_workflow(runner):
    assert (runner["repo"] / ".github" / "workflows" / "check.yml").read_bytes() == TEMPLATE.read_bytes()
    assert {p.name for p in runner["repo"].iterdir()} == {".github", "gates.ipynb", "gates.py",
                                                          "rubric.yaml"}


def test_install_step_gives_a_bpgrade_command(runner):
    bpgrade = runner["venv"] / "bin" / "bpgrade"
    assert bpgrade.exists()
    proc = subprocess.run([str(bpgrade), "--version"], capture_output=True, text=True,
                          env=runner["env"], timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("bpgrade ")
    where = subprocess.run(["python", "-c", "import grader; print(grader.__file__)"],
                           capture_output=True, text=True, env=runner["env"], cwd=runner["tmp"])
    assert where.stdout.startswith(str(runner["venv"]))  # the installed copy, not this checkout


def summary_and_junit(runner, before):
    summary = Path(runner["env"]["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary.startswith(before)
    junit = runner["repo"] / runner["env"]["JUNIT"]
    root = ET.parse(junit).getroot()
    return summary[len(before):], root


def test_unfinished_template_fails_the_check(runner):
    summary_file = Path(runner["env"]["GITHUB_STEP_SUMMARY"])
    summary_file.write_text("earlier step\n")
    proc = run_step(runner, "Check the gates")
    assert proc.returncode == 1, proc.stderr  # FAIL_UNDER 100% is not met
    assert "is under --fail-under 100%" in proc.stderr
    added, root = summary_and_junit(runner, "earlier step\n")
    assert added == proc.stdout  # the log shows the same table
    assert added.startswith("### ❌ ")
    student = rubric.load(runner["repo"] / "rubric.yaml")
    rows = [line for line in added.splitlines() if re.match(r"\| (✅|❌) \|", line)]
    assert len(rows) == len(student.items)  # the student rubric has no hidden checks
    # the released template passes only what it gives: the two forward methods
    assert sorted(r.split("|")[2].strip() for r in rows if r.startswith("| ✅")) == sorted(
        formats.md_cell(i.name) for i in student.items if i.id in ("mul-forward", "add-forward"))
    assert "NotImplementedError" in added
    cases = root.findall("testsuite/testcase")
    assert len(cases) == len(student.items)
    assert int(root.get("failures")) == len(student.items) - 2


def test_finished_notebook_passes_the_check(runner):
    notebook = runner["repo"] / "gates.ipynb"
    template = notebook.read_bytes()
    shutil.copy(ASSIGNMENT / "source.ipynb", notebook)
    Path(runner["env"]["GITHUB_STEP_SUMMARY"]).write_text("")
    try:
        proc = run_step(runner, "Check the gates")
    finally:
        notebook.write_bytes(template)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    added, root = summary_and_junit(runner, "")
    student = rubric.load(runner["repo"] / "rubric.yaml")
    total = sum(i.points for i in student.items)
    assert added.startswith("### ✅ ")
    assert "| | **Score on visible checks** | **%g / %g** |" % (total, total) in added
    assert root.get("failures") == "0" and root.get("tests") == str(len(student.items))


def test_fail_under_can_be_turned_off(runner):
    proc = run_step(runner, "Check the gates", FAIL_UNDER="")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("### ❌ ")


def test_release_refuses_a_workflow_with_solution_text(tmp_path, capsys):
    source = tmp_path / "assignment"
    shutil.copytree(ASSIGNMENT, source)
    solution = "dx = self.y * dz"
    assert solution in (source / "gates.py").read_text()
    wf = source / ".github" / "workflows" / "check.yml"
    wf.write_text(wf.read_text() + "# " + solution + "\n")
    code = cli.main(["release", str(source), "-o", str(tmp_path / "out")])
    assert code == 2
    assert "solution text in a workflow" in capsys.readouterr().err
    assert not (tmp_path / "out" / ".github").exists()
