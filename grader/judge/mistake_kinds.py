"""The named mistakes: each id with the sentence a student reads and the short
label course staff see in the class report, in one registry.

`judge.mistakes` builds the suspects that reproduce these mistakes; a test
checks that every id it can name is here, with a sentence and a label. Two
kinds of ids are not in MISTAKES itself: `<other>_rule_in_<gate>` (a gate that
uses another gate's rule, made by `rule_id`) and the ids a reference class
declares in its own `mistakes` (`declared`), which bring their own sentences.

Imports nothing, so the reports read it without the sandbox.
"""
import re
from collections.abc import Collection
from dataclasses import dataclass

EVIDENCE = 3  # backward answers a suspect must reproduce before it is named


@dataclass(frozen=True)
class MistakeKind:
    id: str
    sentence: str  # for the student; may hold {fields} filled in by `sentence`
    label: str  # for course staff, in the class report


MISTAKES = {m.id: m for m in (
    MistakeKind("forgot_upstream", "It looks like the upstream gradient was not multiplied in.",
                "forgot the upstream gradient"),
    MistakeKind("swapped_inputs", "It looks like the gradients are swapped: each input got the other "
                                  "input's gradient.", "swapped inputs"),
    MistakeKind("sign_error", "It looks like a sign is wrong: {detail} the opposite sign.", "sign error"),
    MistakeKind("rule_of_other_gate", "It looks like {gate} uses {other}'s rule for its gradients.",
                "another gate's rule"),
    MistakeKind("used_output", "It looks like the gate's output was used where an input belongs.",
                "used the output instead of an input"),
    MistakeKind("stale_cache", "It looks like backward uses the inputs of an earlier forward call, "
                               "not the latest one.", "stale cache (an earlier forward's inputs)"),
    MistakeKind("shared_cache", "It looks like instances share their cached inputs (kept on the class or "
                                "in a global), so one gate's backward used another gate's inputs.",
                "cache shared between instances"),
    MistakeKind("accumulated", "It looks like backward adds to gradients kept from earlier calls "
                               "(like self.dx += ...) instead of computing them afresh each time.",
                "accumulated across calls"),
    MistakeKind("rounded", "It looks like values are cut or rounded (int() or round()); inputs and "
                           "gradients are real numbers, not whole numbers.",
                "values cut or rounded to whole numbers"),
    MistakeKind("dropped_signs", "It looks like abs() dropped a sign; it is only right for positive values.",
                "only right for positive inputs"),
    MistakeKind("ignores_inputs", "backward gives the same local gradients whatever the inputs: it looks "
                                  "like it uses fixed values (notebook globals, or the slide's numbers) "
                                  "instead of the inputs cached by forward.",
                "fixed local gradients (ignores the inputs)"),
    MistakeKind("gradients_out_of_order", "It looks like backward returns the gradients in the wrong order: "
                                          "it should return [{want}], one per input in forward's order.",
                "gradients in the wrong order"),
    MistakeKind("hard_coded", "backward returns the same values whatever the inputs: they look hard-coded "
                              "(for example, the slide's worked example).", "hard-coded values"),
    # the scalar autograd engine (check: engine): named by replaying the graph on reference/micrograd.py's variants
    MistakeKind("overwrote_grad", "It looks like a gradient is assigned (grad = ...) where it must be added "
                                  "(grad += ...){where}: a node used more than once keeps only one of its shares.",
                "= instead of += (reused nodes)"),
    MistakeKind("topo_order", "It looks like backward() does not run the nodes' backward steps in reverse "
                              "topological order: a node passed its gradient on before every node that uses it "
                              "had added its share, or more than once.", "wrong topological order"),
    MistakeKind("pow_no_exponent", "It looks like the gradient of x ** n leaves out the factor n (the exponent).",
                "** gradient without the exponent"),
    MistakeKind("tanh_used_input", "It looks like tanh's gradient uses its input x where its output tanh(x) "
                                   "belongs.", "tanh gradient from the input"),
    MistakeKind("relu_passes_negative", "It looks like relu passes the gradient on where its input is negative, "
                                        "where its output does not change.", "relu gradient where x < 0"),
    MistakeKind("reflected_order", "It looks like a reflected operator swaps its operands: with a number on the "
                                   "left, 2 - a or 2 / a is computed as a - 2 or a / 2.",
                "reflected operator reversed"),
)}

# The ids the engine check can name, in a fixed order (reference/micrograd.py answers with indices into it).
ENGINE = ("overwrote_grad", "topo_order", "pow_no_exponent", "tanh_used_input", "relu_passes_negative",
          "forgot_upstream", "reflected_order")

# Named whatever the gates are (not built from a gate's reference).
ALWAYS = ("forgot_upstream", "sign_error", "used_output", "stale_cache", "shared_cache", "accumulated",
          "rounded", "dropped_signs", "ignores_inputs", "hard_coded")
RULE = re.compile(r"(\w+)_rule_in_(\w+)")


def sentence(mistake_id: str, **fields: str) -> str:
    """The student's sentence for a registered mistake, its {fields} filled in."""
    return MISTAKES[mistake_id].sentence.format(**fields)


def short(gate_name: str) -> str:
    """A gate's name in a rule id: MultiplyGate -> multiply."""
    return (gate_name[:-4] if gate_name.endswith("Gate") else gate_name).lower()


def rule_id(other: str, gate: str) -> str:
    """The id of `gate` using `other`'s rule, e.g. add_rule_in_multiply."""
    return "%s_rule_in_%s" % (short(other), short(gate))


def label(mistake_id: str) -> str:
    """The staff label of a mistake id: the registry's, a rule id's own words, or
    (a reference's declared mistake) the id in words."""
    if mistake_id in MISTAKES:
        return MISTAKES[mistake_id].label
    rule = RULE.fullmatch(mistake_id)
    if rule:
        return "%s rule in %s" % rule.groups()
    return mistake_id.replace("_", " ")


def declared(reference: type) -> dict:
    """{id: (sentence, [gate classes])} from a reference class's `mistakes`: each
    value is (sentence, a gate class with the mistake, or a list of such classes)."""
    found = getattr(reference, "mistakes", None)
    if not isinstance(found, dict):
        return {}
    return {str(k): (str(v[0]), list(v[1]) if isinstance(v[1], (list, tuple)) else [v[1]])
            for k, v in found.items()}


def rule_pairs(gates: dict, name: str) -> list:
    """The other gates whose rule `name` could be using: same input shapes and outputs."""
    gate = gates[name]
    return [other for other in gates.values()
            if other.name != name and other.shapes == gate.shapes and other.outputs == gate.outputs]


def known_ids(gates: dict, checks: Collection[str] = ()) -> set:
    """Every mistake id the diagnosis can name for these gates (rubric `gates:`) and check kinds."""
    ids = set(ALWAYS) | (set(ENGINE) if "engine" in checks else set())
    for name, gate in gates.items():
        ids.update(declared(gate.reference))
        if len(gate.inputs) > 1:
            ids.add("swapped_inputs")
        if len(gate.grads) > 2:
            ids.add("gradients_out_of_order")
        ids.update(rule_id(other.name, name) for other in rule_pairs(gates, name))
    return ids
