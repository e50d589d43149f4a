"""operator/Dockerfile, read as Docker would (no Docker engine here): slim, non-root, the operator
package only, and every import of ner_operator installed in the image."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import shlex
import subprocess
import sys
import tomllib

from packaging.requirements import Requirement

from tests.install.manifests import ROOT

DOCKERFILE = ROOT / "operator" / "Dockerfile"
PACKAGE = ROOT / "operator" / "ner_operator"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    result = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            result.append((word.upper(), rest.strip()))
    return result


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last_from:]


def pip_requirements() -> dict[str, Requirement]:
    (command,) = [args for word, args in instructions() if word == "RUN" and "pip install" in args]
    words = shlex.split(command)
    requirements = [Requirement(w) for w in words[words.index("install") + 1 :]]
    return {importlib.metadata.metadata(r.name)["Name"].lower(): r for r in requirements}


def third_party_imports() -> set[str]:
    modules = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m != "ner_operator"}


def test_entrypoint_is_exec_form_and_runs_kopf_with_peering_and_liveness() -> None:
    stage = dict(final_stage())
    assert json.loads(stage["ENTRYPOINT"]) == ["python", "-m", "ner_operator"]
    cmd = json.loads(stage["CMD"])
    assert any(a.startswith("--peering=") for a in cmd)
    assert "--liveness=http://0.0.0.0:8080/healthz" in cmd
    # The defaults are valid options of `python -m ner_operator`.
    from ner_operator.__main__ import parse_args

    args = parse_args(cmd)
    assert args.peering == "ner-operator" and args.liveness.endswith(":8080/healthz")


def test_runs_as_a_non_root_user_from_a_slim_base() -> None:
    stage = final_stage()
    assert "slim" in DOCKERFILE.read_text().split("ARG PYTHON_IMAGE=")[1].split()[0]
    users = [args for word, args in stage if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    # USER comes before the entrypoint, and nothing after it switches back.
    assert [word for word, _ in stage].index("USER") < [word for word, _ in stage].index(
        "ENTRYPOINT"
    )


def test_only_the_operator_package_goes_in() -> None:
    copies = [args for word, args in instructions() if word == "COPY" and "--from" not in args]
    assert copies == ["operator/ner_operator /opt/operator/ner_operator"]
    steps = " ".join(args for _, args in instructions())
    assert "torch" not in steps and "inference" not in steps
    assert " . " not in f" {steps} "  # never the whole project (pip install .)


def test_every_import_of_the_operator_is_installed() -> None:
    installed = pip_requirements()
    distributions = importlib.metadata.packages_distributions()
    missing = {
        module
        for module in third_party_imports()
        if not {d.lower() for d in distributions.get(module, [module])} & set(installed)
    }
    assert not missing, f"ner_operator imports {missing}, which the image does not install"


def test_versions_match_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = [*pyproject["dependencies"], *pyproject["optional-dependencies"]["operator"]]
    ranges = {
        importlib.metadata.metadata(r.name)["Name"].lower(): r.specifier
        for r in map(Requirement, declared)
    }
    for name, requirement in pip_requirements().items():
        if name in ranges:
            assert requirement.specifier == ranges[name], name


def test_the_package_runs_without_the_inference_side() -> None:
    """Only operator/ on the path (as in the image): no ner_inference, no torch gets imported."""
    code = (
        "import sys; import ner_operator.handlers, ner_operator.__main__; "
        "bad = {'torch', 'ner_inference', 'transformers'} & set(sys.modules); "
        "assert not bad, bad"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        cwd=ROOT / "operator",
        env={"PYTHONPATH": str(ROOT / "operator"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
