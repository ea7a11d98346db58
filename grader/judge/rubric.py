"""Read a YAML rubric, validate it against the schema, and fill in defaults.

Every problem becomes one `RubricError` line: file, path inside it, problem.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from functools import cached_property
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from backprop_grader import __version__
from backprop_grader.errors import RubricError, UsageError
from backprop_grader.judge import visibility
from backprop_grader.judge.check_kinds import runs_nothing
from backprop_grader.judge.inputs import SPECIALS
from backprop_grader.judge.mistake_kinds import known_ids

if TYPE_CHECKING:
    import jsonschema

    from backprop_grader.sandbox import Limits

PACKAGED = files("backprop_grader.rubrics")
DEFAULTS = {
    "trials": 20,
    "tolerance": {"rtol": 1e-6, "atol": 1e-9},
    "inputs": {"magnitude": [0.5, 4.0], "upstream": [0.5, 4.0], "min_gap": 0.1},
    "specials": list(SPECIALS),
}


@dataclass(frozen=True)
class Api:
    """How the student's class is called (a gate's `api:` block); the default is
    `forward(*inputs)` and `backward(*upstream)` returning the gradients."""
    forward: str = "forward"  # the method names
    backward: str = "backward"
    inputs_again: bool = False  # backward(*inputs, *upstream): a stateless backward
    grads_on: tuple = ()  # attributes backward leaves the gradients on, one per input (else its answer)
    # (None for the one gradient backward returns)
    function: bool = False  # the gate is a function: forward(*inputs) -> (out, cache); backward None: (out, grads)
    no_upstream: bool = False  # backward() takes no argument (a loss: its upstream gradient is 1)
    init: tuple = ()  # input positions passed to the constructor (Affine(W, b)), not to forward
    upstream_in_place: bool = False  # backward may change its upstream array (the book's Relu: dout[mask] = 0)

    @property
    def loss(self) -> bool:
        """The output is a loss whose backward takes no upstream gradient (it is 1)."""
        return self.no_upstream or (self.function and self.backward is None)


@dataclass
class Gate:
    name: str
    reference: type
    inputs: list
    shapes: list
    outputs: list = field(default_factory=lambda: ["z"])
    api: Api = field(default_factory=Api)
    constant: dict = field(default_factory=dict)  # not_differentiable: input name -> how it is drawn
    is_loss: bool = False  # `loss: true`: the output is a loss, whose upstream gradient is 1

    @property
    def loss(self) -> bool:
        """Its upstream gradient is 1: declared a loss, or its backward takes none."""
        return self.is_loss or self.api.loss

    @cached_property
    def differentiable(self) -> list[int]:
        """Positions of the inputs that get a gradient."""
        return [i for i, n in enumerate(self.inputs) if n not in self.constant]

    @cached_property
    def grads(self) -> list[str]:
        return ["d" + self.inputs[i] for i in self.differentiable]

    @cached_property
    def grad_shapes(self) -> list[tuple]:
        return [self.shapes[i] for i in self.differentiable]

    @property
    def upstreams(self) -> list[str]:
        return ["d" + n for n in self.outputs]

    def calls(self) -> dict[str, str]:
        """How this gate is called, in a hint's words (check_kinds.CALLS): its
        method or function names, and where backward puts the gradients."""
        api, grads = self.api, self.grads
        out = {"forward": api.forward, "backward": api.backward or api.forward}
        if api.function:
            out["outputs"] = "(out, cache)" if api.backward else "(%s, %s)" % (self.outputs[0], ", ".join(grads))
        on = dict(zip(grads, api.grads_on)) if api.grads_on else {}
        returned = [g for g in grads if not on.get(g)]
        kept = " and ".join("self." + on[g] for g in grads if on.get(g))
        if api.function and not api.backward:
            out["then"] = ""  # the gradients came with the output
        elif kept:
            out["then"] = ", and %s must %sset %s" % (
                api.backward, "return %s and " % ", ".join(returned) if returned else "", kept)
        elif api.function or api.backward != "backward" or grads != ["dx", "dy"]:
            out["then"] = ", and %s one gradient per input (%s)" % (api.backward, ", ".join(grads))
        return out


@dataclass
class Graph:
    name: str
    inputs: list
    nodes: list  # dicts: name, gate, inputs
    title: str = ""

    @property
    def gates(self) -> list[str]:
        return sorted({n["gate"] for n in self.nodes})


@dataclass
class Item:
    id: str
    check: str
    points: float
    name: str = ""
    gate: str = None
    graph: str = None
    visibility: str = "visible"
    trials: int = 20
    tolerance: dict = field(default_factory=dict)
    inputs: dict = field(default_factory=dict)
    specials: list = field(default_factory=list)
    examples: list = field(default_factory=list)
    hint: str = ""
    mistakes: dict = field(default_factory=dict)  # mistake id -> hint
    engine: dict = field(default_factory=dict)  # engine checks: the graphs (checks/engine.py)

    @property
    def hidden(self) -> bool:
        return visibility.is_hidden(self.visibility)


@dataclass
class Rubric:
    path: Path
    assignment: str
    title: str
    gates: dict
    graphs: dict
    items: list
    limit_settings: dict  # the rubric's `limits:` block, as written
    sha256: str
    given: list = field(default_factory=list)  # "Gate" or "Gate.method": code the template gives
    late: object = None  # grader.batch.late.Policy: the `late:` block, or None

    @cached_property
    def limits(self) -> Limits:
        """The sandbox's `Limits` (imported here, so that reading a rubric does not start the sandbox's imports)."""
        from backprop_grader.sandbox import Limits
        return Limits(**self.limit_settings)

    @property
    def max_score(self) -> float:
        return sum(i.points for i in self.items)


def schema() -> dict:
    return json.loads(PACKAGED.joinpath("rubric.schema.json").read_text())


def find(name: str | None = None) -> Path:
    """A rubric path: a file, or the name of a packaged rubric (default: gates)."""
    name = name or "gates"
    path = Path(name)
    if path.is_file():
        return path
    packaged = PACKAGED.joinpath(name if name.endswith(".yaml") else name + ".yaml")
    if "/" not in name and packaged.is_file():
        return Path(str(packaged))
    raise UsageError("%s: no such rubric file" % name)


def load(path: str | Path) -> Rubric:
    path = Path(path)
    raw = path.read_bytes()
    where = str(path)
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = ":%d:%d" % (mark.line + 1, mark.column + 1) if mark else ""
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise RubricError("%s%s: YAML syntax error: %s" % (where, at, problem)) from None
    if not isinstance(data, dict):
        raise RubricError("%s: the rubric must be a YAML mapping" % where)
    check_schema(data, raw, where)
    return build(data, path, hashlib.sha256(raw).hexdigest())


def check_schema(data: dict, raw: bytes, where: str) -> None:
    """The rubric against the JSON Schema: the first problem as a RubricError with
    its path. A rubric file that passed once, with this schema and this grader
    version, is remembered (an empty file named by its digest in the user's cache
    folder): jsonschema is then not even imported (a student's check, again and
    again on the kit's rubric, starts 80 ms sooner)."""
    text = PACKAGED.joinpath("rubric.schema.json").read_bytes()
    mark = valid_mark(hashlib.sha256(b"\0".join((__version__.encode(), text, raw))).hexdigest())
    if mark is not None and mark.exists():
        return
    import jsonschema
    errors = list(jsonschema.Draft202012Validator(json.loads(text)).iter_errors(data))
    if errors:  # the deepest error is the most specific one
        deepest = max(len(e.absolute_path) for e in errors)
        error = jsonschema.exceptions.best_match(
            e for e in errors if len(e.absolute_path) == deepest)
        raise RubricError("%s: %s: %s" % (where, yaml_path(error.absolute_path) or "(top)",
                                          explain(error)))
    if mark is not None:
        try:
            mark.parent.mkdir(parents=True, exist_ok=True)
            mark.touch()
        except OSError:  # a read-only home: validate every time
            pass


def valid_mark(digest: str) -> Path | None:
    """Where a rubric that passed the schema is remembered ($XDG_CACHE_HOME or ~/.cache)."""
    base = os.environ.get("XDG_CACHE_HOME") or (os.path.expanduser("~/.cache") if "HOME" in os.environ else "")
    return Path(base, "backprop-grader", "valid-rubrics", digest) if base else None


def yaml_path(parts: Iterable[str | int]) -> str:
    out = ""
    for p in parts:
        out += "[%d]" % p if isinstance(p, int) else ("." if out else "") + str(p)
    return out


def explain(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return "unknown key %s (allowed: %s)" % (
            ", ".join(repr(k) for k in extra), ", ".join(sorted(error.schema.get("properties", {}))))
    if error.validator == "enum":
        return "%r is not one of: %s" % (error.instance, ", ".join(map(str, error.validator_value)))
    if error.validator == "pattern" and list(error.absolute_path)[:1] == ["late"]:
        return "%r is not %s" % (error.instance, error.schema["description"])
    if error.validator == "not":
        kind = error.instance.get("check")
        return "a %s check must not name %s" % (kind, "a gate" if kind == "graph" else "a graph")
    return error.message


def build(data: dict, path: Path, sha: str) -> Rubric:
    where = str(path)
    defaults = merged(DEFAULTS, data.get("defaults", {}))

    gates = {}
    for name, spec in data["gates"].items():
        shapes = [tuple(s) for s in spec.get("shapes", [[]] * len(spec["inputs"]))]
        if len(shapes) != len(spec["inputs"]):
            raise RubricError("%s: gates.%s.shapes: %d shapes for %d inputs"
                              % (where, name, len(shapes), len(spec["inputs"])))
        ref = reference_class(spec["reference"], path, "gates.%s.reference" % name)
        outputs = spec.get("outputs") or (["z"] if "z" not in spec["inputs"] else ["out"])
        constant = dict(spec.get("not_differentiable", {}))
        unknown = set(constant) - set(spec["inputs"])
        if unknown:
            raise RubricError("%s: gates.%s.not_differentiable: %s is not an input"
                              % (where, name, ", ".join(sorted(unknown))))
        differentiable = [n for n in spec["inputs"] if n not in constant]
        gates[name] = Gate(name, ref, list(spec["inputs"]), shapes, list(outputs),
                           api(spec.get("api", {}), differentiable, "%s: gates.%s.api" % (where, name), name,
                               spec["inputs"]), constant, bool(spec.get("loss")))

    graphs = {}
    for name, spec in data.get("graphs", {}).items():
        known = set(spec["inputs"])
        for k, node in enumerate(spec["nodes"]):
            at = "%s: graphs.%s.nodes[%d]" % (where, name, k)
            if node["gate"] in gates and any(gates[node["gate"]].shapes):
                raise RubricError("%s.gate: %s takes inputs of shape %s; graph inputs are "
                                  "scalars, so graph nodes take scalar gates"
                                  % (at, node["gate"], ", ".join(map(str, gates[node["gate"]].shapes))))
            if node["name"] in known:
                raise RubricError("%s.name: %r is already a graph input or an earlier node"
                                  % (at, node["name"]))
            if node["gate"] not in gates:
                raise RubricError("%s.gate: unknown gate %r" % (at, node["gate"]))
            if len(gates[node["gate"]].outputs) != 1:
                raise RubricError("%s.gate: %s has %d outputs; graph nodes take one-output gates "
                                  "(a variable used twice is a fan-out already)"
                                  % (at, node["gate"], len(gates[node["gate"]].outputs)))
            if len(node["inputs"]) != len(gates[node["gate"]].inputs):
                raise RubricError("%s.inputs: %s takes %d inputs, not %d" % (
                    at, node["gate"], len(gates[node["gate"]].inputs), len(node["inputs"])))
            for i, src in enumerate(node["inputs"]):
                if src not in known:
                    raise RubricError("%s.inputs[%d]: %r is not a graph input or an earlier node"
                                      % (at, i, src))
            known.add(node["name"])
        graphs[name] = Graph(name, list(spec["inputs"]), list(spec["nodes"]), spec.get("title", ""))

    items, seen = [], set()
    for k, raw in enumerate(data["checks"]):
        at = "%s: checks[%d]" % (where, k)
        if raw["id"] in seen:
            raise RubricError("%s.id: duplicate id %r" % (at, raw["id"]))
        seen.add(raw["id"])
        if raw.get("gate") is not None and raw["gate"] not in gates:
            raise RubricError("%s.gate: unknown gate %r (known: %s)" % (at, raw["gate"], ", ".join(gates)))
        if raw.get("graph") is not None and raw["graph"] not in graphs:
            raise RubricError("%s.graph: unknown graph %r" % (at, raw["graph"]))
        names = gates[raw["gate"]].inputs if raw.get("gate") else graphs[raw["graph"]].inputs
        drawn = set(gates[raw["gate"]].constant) if raw.get("gate") else set()
        for j, example in enumerate(raw.get("examples", [])):
            missing = set(names) - set(example) - drawn
            extra = set(example) - set(names) - {"upstream"}
            if missing or extra:
                raise RubricError("%s.examples[%d]: %s" % (at, j, "missing %s" % ", ".join(sorted(missing))
                                                           if missing else "unknown %s" % ", ".join(sorted(extra))))
        item = merged(defaults, raw)
        empty = runs_nothing(raw["check"], item["trials"], item["specials"], raw.get("examples", []))
        if empty:
            raise RubricError("%s.trials: %s" % (at, empty))
        item.setdefault("name", "%s %s" % (raw.get("gate") or "graph " + raw.get("graph", ""), raw["check"]))
        items.append(Item(**{f.name: item[f.name] for f in fields(Item) if f.name in item}))

    for k, name in enumerate(data.get("given", [])):
        if name.split(".")[0] not in gates:
            raise RubricError("%s: given[%d]: unknown gate %r (known: %s)"
                              % (where, k, name.split(".")[0], ", ".join(gates)))

    late_policy = None
    if "late" in data:
        from backprop_grader.batch import late
        late_policy = late.policy(data["late"], where)
    rubric = Rubric(path, data["assignment"], data.get("title", data["assignment"]),
                    gates, graphs, items, dict(data.get("limits", {})), sha,
                    list(data.get("given", [])), late_policy)
    known = known_ids(gates, {item.check for item in items})
    for k, item in enumerate(items):
        for mistake_id in item.mistakes:
            if mistake_id not in known:
                raise RubricError("%s: checks[%d].mistakes.%s: unknown mistake (known: %s)"
                                  % (where, k, mistake_id, ", ".join(sorted(known))))
    return rubric


def api(spec: dict, names: list[str], at: str, gate: str = "", inputs: list[str] | None = None) -> Api:
    """A gate's `api:` block (schema-checked) as an `Api`. `names`: the inputs that
    get a gradient; `grads_on` names every one (null: the one backward returns)."""
    grads_on = spec.get("grads_on") or {}
    if grads_on and list(grads_on.values()).count(None) > 1:
        raise RubricError("%s.grads_on: null for more than one input: backward returns one gradient" % at)
    if grads_on and set(grads_on) != set(names):
        raise RubricError("%s.grads_on: names inputs %s; the gate's inputs are %s"
                          % (at, ", ".join(grads_on), ", ".join(names)))
    init = list(spec.get("init", []))
    if set(init) - set(inputs or names):
        raise RubricError("%s.init: %s is not an input" % (at, ", ".join(sorted(set(init) - set(inputs or names)))))
    function = bool(spec.get("function"))
    if function and ({"forward", "init", "grads_on"} & set(spec) or spec.get("backward_args")):
        raise RubricError("%s: a function gate is the function named by the gate's key, backward(*upstream, "
                          "cache): it takes no forward, init, grads_on or backward_args" % at)
    if not function and "backward" in spec and spec["backward"] is None:
        raise RubricError("%s.backward: null (forward returns the gradients) is for a function gate" % at)
    return Api(gate if function else spec.get("forward", "forward"), spec.get("backward", "backward"),
               spec.get("backward_args", ["upstream"]) == ["inputs", "upstream"],
               tuple(grads_on.get(n) for n in names) if grads_on else (), function,
               spec.get("backward_args") == [], tuple((inputs or names).index(n) for n in init),
               bool(spec.get("upstream_in_place")))


def merged(base: dict, override: dict) -> dict:
    """`override` over `base`, and key by key inside the nested settings."""
    out = dict(base, **override)
    for key in ("tolerance", "inputs"):
        out[key] = dict(base[key], **override.get(key, {}))
    return out


def packaged_module(name: str) -> str:
    """`reference...` in a rubric names the grader's own reference gates, which
    install as backprop_grader.reference (the distribution claims no other name)."""
    return "backprop_grader." + name if name == "reference" or name.startswith("reference.") else name


def reference_class(spec: str, rubric_path: str | Path, at: str) -> type:
    """Import a reference class, in the trusted parent only."""
    target, _, cls = spec.rpartition(":")
    try:
        if target.endswith(".py"):
            file = (Path(rubric_path).parent / target).resolve()
            module_spec = importlib.util.spec_from_file_location("_bpgrade_ref_" + file.stem, file)
            module = importlib.util.module_from_spec(module_spec)
            module_spec.loader.exec_module(module)
        else:
            module = importlib.import_module(packaged_module(target))
        return getattr(module, cls)
    except Exception as exc:  # any failure here is the rubric author's to fix
        raise RubricError("%s: %s: cannot load %s (%s: %s)" % (
            rubric_path, at, spec, type(exc).__name__, exc)) from None
