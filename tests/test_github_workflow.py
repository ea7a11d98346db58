"""The GitHub Actions template, assignments/gates/.github/workflows/check.yml.

`bpgrade release` copies it into the student repository; this test then runs its `run:`
steps as a runner would (bash -eo pipefail, the workflow's env, $GITHUB_STEP_SUMMARY set)
in that repository, with a fresh Python environment standing in for setup-python:

- the kit is committed to a new git repository and cloned, as a student's repository;
- "Install the grader" installs the student wheel the kit carries. Here pip gets
  PIP_NO_INDEX and PIP_NO_DEPS, and the dependencies come from this test environment
  through a .pth file (tests/test_kit.py installs the same wheel with its dependencies
  in a fresh environment);
- "Check the gates" must append the Markdown table to the step summary, write the JUnit
  file the upload step names, and fail the step under FAIL_UNDER.
The `uses:` steps (checkout, setup-python, upload-artifact) cannot run here; their
settings are checked instead.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from backprop_grader import cli
from backprop_grader.report import formats
from backprop_grader.judge import rubric

ROOT = Path(__file__).parent.parent
ASSIGNMENT = ROOT / "assignments" / "gates"
TEMPLATE = ASSIGNMENT / ".github" / "workflows" / "check.yml"
GITLAB = ASSIGNMENT / ".gitlab-ci.yml"


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
                       "Check the gates", "Upload the reports"]
    upload = s["Upload the reports"]
    assert upload["uses"].startswith("actions/upload-artifact@")
    assert upload["if"] == "always()"  # the report is uploaded when the check fails too
    assert upload["with"]["path"].split() == ["${{", "env.JUNIT", "}}", "${{", "env.RESULT", "}}"]
    assert ".bpgrade/wheels/" in s["Install the grader"]["run"]  # never an index that lacks the grader
    check = s["Check the gates"]["run"]
    assert '--junit "$JUNIT"' in check and "--format markdown" in check
    for step in s.values():  # the run steps use plain shell variables: simulated as is
        assert "${{" not in step.get("run", "")


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    """A released student repository and a fresh Python environment where the workflow's
    install step has run."""
    tmp = tmp_path_factory.mktemp("gha")
    kit = tmp / "kit"
    code = cli.main(["release", str(ASSIGNMENT), "-o", str(kit)])
    assert code == 0
    git = ["git", "-c", "user.name=T", "-c", "user.email=t@example.edu"]
    subprocess.run(git + ["init", "-q", str(kit)], check=True)
    subprocess.run(git + ["add", "-A"], cwd=kit, check=True)
    subprocess.run(git + ["commit", "-q", "-m", "kit"], cwd=kit, check=True)
    repo = tmp / "repo"
    subprocess.run(["git", "clone", "-q", str(kit), str(repo)], check=True)
    venv = tmp / "python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    site_dir = Path(subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (site_dir / "deps-from-tests.pth").write_text("\n".join(sorted(ours)) + "\n")
    env = dict(os.environ, PATH=str(venv / "bin") + os.pathsep + os.environ["PATH"],
               PIP_NO_INDEX="1", PIP_NO_DEPS="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1", CI="true", GITHUB_ACTIONS="true",
               GITHUB_STEP_SUMMARY=str(tmp / "summary.md"))
    env.pop("VIRTUAL_ENV", None)
    env.pop("PYTHONHOME", None)
    workflow = load_workflow(repo / ".github" / "workflows" / "check.yml")
    env.update({k: str(v) for k, v in workflow["env"].items()})
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
    assert (runner["repo"] / ".gitlab-ci.yml").read_bytes() == GITLAB.read_bytes()
    assert {p.name for p in runner["repo"].iterdir()} == {".git", ".github", ".gitlab-ci.yml", ".bpgrade",
                                                          "gates.ipynb", "gates.py", "rubric.yaml"}


def test_shipped_templates_are_the_built_in_ones():
    from backprop_grader.authoring import kit
    for folder, submission in ((ASSIGNMENT, "gates.ipynb"),
                               (ROOT / "assignments" / "sigmoid-neuron", "sigmoid_neuron.ipynb")):
        for name in kit.TEMPLATES:
            assert (folder / name).read_text() == kit.template(name, submission)


def test_install_step_gives_a_bpgrade_command(runner):
    bpgrade = runner["venv"] / "bin" / "bpgrade"
    assert bpgrade.exists()
    proc = subprocess.run([str(bpgrade), "--version"], capture_output=True, text=True,
                          env=runner["env"], timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("bpgrade ")
    where = subprocess.run(["python", "-c", "import backprop_grader as g; print(g.__file__)"],
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
    result = json.loads((runner["repo"] / runner["env"]["RESULT"]).read_text())
    assert result["score"] == result["max_score"] == total
    assert [t["name"] for t in result["tests"]] == [i.name for i in student.items]


def test_gitlab_script_runs_from_the_clone(runner):
    """.gitlab-ci.yml's script lines, one after another in one shell, as GitLab's runner does."""
    job = yaml.safe_load((runner["repo"] / ".gitlab-ci.yml").read_text())["bpgrade-check"]
    script = "\n".join(job["script"])
    path = runner["tmp"] / "gitlab.sh"
    path.write_text(script)
    env = dict(runner["env"], **{k: str(v) for k, v in job["variables"].items()})
    env["FAIL_UNDER"] = ""
    env.pop("GITHUB_STEP_SUMMARY", None)
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(path)], cwd=runner["repo"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "### ❌ " in proc.stdout  # the released template does not pass yet (pip spoke first)
    assert set(job["artifacts"]["paths"]) >= {"result.json", "bpgrade-junit.xml"}
    assert job["artifacts"]["reports"]["junit"] == "bpgrade-junit.xml"
    result = json.loads((runner["repo"] / "result.json").read_text())
    assert 0 < result["score"] < result["max_score"] and result["extra_data"]["hidden"]["checks"] == 0

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
    assert not (tmp_path / "out" / ".github").exists() and not (tmp_path / "out" / ".bpgrade").exists()
