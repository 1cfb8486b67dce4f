"""The service images (``services/<name>/Dockerfile``), checked without a Docker engine.

Two kinds of checks per service:

- the Dockerfile's rules, read from the file: pinned base images (uv at the Makefile's
  version), a numeric non-root user, ``python -m convene_<name>`` in exec form, no
  HEALTHCHECK, the port the service listens on, uv installing from the lock without dev
  dependencies and only the service's package, the runtime stage taking the environment alone;
- the image's environment, built by replaying the Dockerfile's build stage here
  (``.dockerignore`` applied to its COPYs, its uv commands run as written, offline from uv's
  cache, with this machine's uv and Python 3.11), then copied as the runtime stage copies it:
  it holds exactly the service's locked runtime set (no pytest, no other service), every
  data file of the packages, and its CMD starts the service up to the store connection.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.images.dockerfile import (
    Dockerfile,
    DockerIgnore,
    Instruction,
    Replay,
    Stage,
    replay_stage,
    shell_free_command,
)

ROOT = Path(__file__).resolve().parents[2]
PYTHON_BASE = re.compile(r"^python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?$")
UV_BASE = "ghcr.io/astral-sh/uv:{version}"
NUMERIC_NON_ROOT = re.compile(r"^(?!0+(:|$))\d+(:(?!0+$)\d+)?$")
UVICORN_STARTUP_FAILURE = 3


@dataclass(frozen=True)
class Member:
    """A workspace member: its distribution name, import package, folder, what it declares."""

    name: str
    package: str
    folder: Path
    dependencies: frozenset[str]

    @property
    def relative(self) -> str:
        return self.folder.relative_to(ROOT).as_posix()


@cache
def members() -> dict[str, Member]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    found = {}
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        for pyproject in sorted(ROOT.glob(f"{pattern}/pyproject.toml")):
            project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
            name = canonicalize_name(project["name"])
            found[name] = Member(
                name, name.replace("-", "_"), pyproject.parent,
                frozenset(canonicalize_name(Requirement(d).name) for d in project["dependencies"]))
    return found


def closure(name: str) -> set[str]:
    """The member and every workspace member it declares, transitively."""
    seen, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        todo.extend(d for d in members()[current].dependencies if d in members())
    return seen


SERVICES = sorted(m.folder.name for m in members().values() if m.folder.parent.name == "services")


def service(name: str) -> Member:
    return next(m for m in members().values() if m.folder == ROOT / "services" / name)


def dockerfile(name: str) -> Dockerfile:
    path = ROOT / "services" / name / "Dockerfile"
    assert path.is_file(), f"services/{name} has no Dockerfile"
    return Dockerfile(path)


def uv_version() -> str:
    return re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.M).group(1)


def uv_syncs(stage: Stage) -> list[tuple[Instruction, list[str]]]:
    return [(run, shell_free_command(run)) for run in stage.all("RUN")]


# The Dockerfile's rules ------------------------------------------------------------------

@pytest.mark.parametrize("name", SERVICES)
def test_base_images_are_pinned(name: str) -> None:
    df = dockerfile(name)
    for stage in df.stages:
        image, _, tag = stage.base.partition("@")[0].rpartition(":")
        assert image and tag and tag != "latest" and "$" not in stage.base, (
            f"line {stage.line}: {stage.base} is not pinned to a release tag")
    uv_stages = [s for s in df.stages if s.base.startswith("ghcr.io/astral-sh/uv")]
    assert [s.base for s in uv_stages] == [UV_BASE.format(version=uv_version())], (
        "uv comes from its official image at the Makefile's UV_VERSION")
    pythons = [s.base for s in df.stages if s not in uv_stages]
    assert all(PYTHON_BASE.match(base) for base in pythons), pythons
    assert len(set(pythons)) == 1, "the environment is built on the Python it runs on"


@pytest.mark.parametrize("name", SERVICES)
def test_runs_as_a_numeric_non_root_user(name: str) -> None:
    users = dockerfile(name).final.all("USER")
    assert users and NUMERIC_NON_ROOT.match(users[-1].args), (
        f"the last USER must be a numeric uid[:gid] other than 0, not {users}")


@pytest.mark.parametrize("name", SERVICES)
def test_runs_the_service_module_in_exec_form_without_healthcheck(name: str) -> None:
    df = dockerfile(name)
    assert not any(i.keyword == "HEALTHCHECK" for i in df.instructions), (
        "Kubernetes probes /healthz and /readyz; an image HEALTHCHECK would be ignored there")
    assert not df.final.all("ENTRYPOINT")
    [cmd] = df.final.all("CMD")
    venv = df.stage("build").env()["UV_PROJECT_ENVIRONMENT"]
    assert cmd.exec_form() == [f"{venv}/bin/python", "-m", service(name).package], (
        f"line {cmd.line}: CMD must be exec form (SIGTERM reaches Python), not {cmd.args}")


@pytest.mark.parametrize("name", SERVICES)
def test_runtime_environment_and_port(name: str) -> None:
    final = dockerfile(name).final
    env = final.env()
    assert env.get("PYTHONDONTWRITEBYTECODE") == "1" and env.get("PYTHONUNBUFFERED") == "1"
    assert env.get("CONVENE_HTTP_HOST") == "0.0.0.0", "the API must be reachable from the pod"
    assert [i.args for i in final.all("EXPOSE")] == [str(default_http_port(name))], (
        "EXPOSE the port the service's settings listen on by default")


def default_http_port(name: str) -> int:
    from convene_kit.settings import ServiceSettings

    module = __import__(f"{service(name).package}.settings", fromlist=["*"])
    [settings] = [v for v in vars(module).values() if isinstance(v, type)
                  and issubclass(v, ServiceSettings) and v is not ServiceSettings]
    return settings.model_fields["http_port"].default


@pytest.mark.parametrize("name", SERVICES)
def test_build_installs_only_the_service_from_the_lock(name: str) -> None:
    df = dockerfile(name)
    build, final = df.stage("build"), df.final
    syncs = uv_syncs(build)
    assert syncs, "the build stage installs with uv sync"
    for run, argv in syncs:
        assert argv[:2] == ["uv", "sync"], f"line {run.line}: {run.args}"
        package = argv[argv.index("--package") + 1] if "--package" in argv else None
        assert "--no-dev" in argv and package == service(name).name, (
            f"line {run.line}: every sync is --no-dev --package {service(name).name}")
        assert not {"--all-packages", "--all-groups", "--group", "--all-extras"} & set(argv)
        assert all(m.startswith("type=cache,") for m in run.flag_values("mount"))
    last = syncs[-1][1]
    assert {"--locked", "--no-editable"} <= set(last) and "--frozen" not in last, (
        "the installing sync checks uv.lock and installs wheels, not links to the source")
    assert not final.all("RUN"), "the runtime stage only receives the environment"
    venv = build.env()["UV_PROJECT_ENVIRONMENT"]
    assert [(c.flag_values("from"), c.args) for c in final.all("COPY")] == [
        (["build"], f"{venv} {venv}")], "the runtime stage copies the environment alone"


@pytest.mark.parametrize("name", SERVICES)
def test_build_copies_its_service_and_the_shared_packages_it_declares(name: str) -> None:
    build = dockerfile(name).stage("build")
    copied = {source.rstrip("/") for c in build.all("COPY") if not c.flag_values("from")
              for source in c.args.split()[:-1]}
    pyprojects = {"pyproject.toml", "uv.lock"} | {f"{m.relative}/pyproject.toml"
                                                 for m in members().values()}
    assert pyprojects <= copied, (
        f"uv sync --locked needs every member's pyproject.toml: {sorted(pyprojects - copied)}")
    code = {members()[n].relative for n in closure(service(name).name)}
    assert copied - pyprojects == code, "the code of the service and of what it declares, only"


def test_dockerignore_keeps_out_local_state_and_keeps_what_the_builds_copy() -> None:
    ignore = DockerIgnore((ROOT / ".dockerignore").read_text(encoding="utf-8"))
    for path in (".venv/bin/python", ".git/HEAD", ".convene/demo-token", "bench/results/x.json",
                 "services/meetings/tests/test_api.py", "tests/integration/conftest.py",
                 "tools/asyncapi/node_modules/x/index.js", ".mypy_cache/x", ".ruff_cache/x",
                 "shared/kit/src/convene_kit/__pycache__/x.cpython-311.pyc", ".env"):
        assert ignore.excludes(path), f"{path} must not be in the build context"
    for member in members().values():
        for path in [member.folder / "pyproject.toml", *source_files(member)]:
            relative = path.relative_to(ROOT).as_posix()
            assert not ignore.excludes(relative), f"{relative} is needed by the builds"


def test_dockerignore_matching_follows_buildkit() -> None:
    ignore = DockerIgnore("# comment\n**/tests\n/docs/*.md\n!docs/keep.md\nbench/**/*.json\n")
    assert ignore.excludes("tests/a.py") and ignore.excludes("services/x/tests/deep/a.py")
    assert ignore.excludes("docs/a.md") and not ignore.excludes("docs/keep.md")
    assert not ignore.excludes("docs/sub/a.md"), "* stays within one folder"
    assert ignore.excludes("bench/results/x.json") and ignore.excludes("bench/x.json")
    assert not ignore.excludes("services/x/src/tests_helper.py")


def source_files(member: Member) -> list[Path]:
    """What building the member's wheel reads: its package folder (and readme)."""
    readme = member.folder / "README.md"
    package = member.folder / "src" / member.package
    return [*([readme] if readme.exists() else []),
            *(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts)]


# The image's environment -----------------------------------------------------------------

@dataclass
class Image:
    name: str
    root: Path
    env: dict[str, str]
    venv: Path
    cmd: list[str]


@pytest.fixture(scope="module", params=SERVICES)
def image(request: pytest.FixtureRequest,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[Image]:
    """The service's image, replayed: build stage, then the runtime stage."""
    name = request.param
    df = dockerfile(name)
    tmp = tmp_path_factory.mktemp(f"image-{name}")
    uv = host_uv()
    ignore = DockerIgnore((ROOT / ".dockerignore").read_text(encoding="utf-8"))

    def base_image(root: Path) -> Replay:
        # What the python base image provides: its interpreter in /usr/local/bin, on PATH.
        bin_dir = root / "usr/local/bin"
        bin_dir.mkdir(parents=True)
        for alias in ("python3.11", "python3", "python"):
            (bin_dir / alias).symlink_to(sys._base_executable)  # this venv's base Python
        env = {"PATH": os.pathsep.join([str(bin_dir), *clean_host_path()]),
               "HOME": os.environ["HOME"]}
        return Replay(root=root, context=ROOT, ignore=ignore, env=env)

    def copy_uv(instruction: Instruction, replay: Replay) -> None:
        assert instruction.args.split() == ["/uv", "/usr/local/bin/uv"], instruction.args
        replay.host("/usr/local/bin/uv").symlink_to(uv)

    build = replay_stage(df.stage("build"), base_image(tmp / "build"), copy_from={"uv": copy_uv},
                         run_env=offline_uv_env())
    shutil.rmtree(build.host("/src"))  # an editable install would lose its code here

    def copy_build(instruction: Instruction, replay: Replay) -> None:
        source, destination = instruction.args.split()
        shutil.copytree(build.host(source), replay.host(destination), symlinks=True,
                        copy_function=os.link)  # the same files, without copying their bytes

    runtime = replay_stage(df.final, base_image(tmp / "image"), copy_from={"build": copy_build})
    venv = runtime.host(df.stage("build").env()["UV_PROJECT_ENVIRONMENT"])
    cmd = df.final.all("CMD")[-1].exec_form()
    assert cmd, "the CMD is not in exec form"
    yield Image(name, runtime.root, runtime.env, venv, [str(runtime.host(cmd[0])), *cmd[1:]])
    shutil.rmtree(tmp)  # two environments of 50-150 MB per service


def host_uv() -> str:
    """The uv running this session (``uv run`` exports it), the version the images pin."""
    uv = os.environ.get("UV") or shutil.which("uv")
    assert uv, "run the tests through uv (make test-images)"
    version = subprocess.run([uv, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.split()[1] == uv_version(), (
        f"{uv} is {version.stdout.strip()}, the images use uv {uv_version()}")
    return uv


def clean_host_path() -> list[str]:
    # Neither the workspace's environment nor any other virtual environment leaks in.
    workspace_bin = str(Path(sys.prefix) / "bin")
    return [p for p in os.environ["PATH"].split(os.pathsep) if p and p != workspace_bin]


def offline_uv_env() -> dict[str, str]:
    """uv without the network (everything is in its cache once ``make install`` ran) and
    without this machine's uv configuration, as in the image. Files are hard-linked from the
    cache instead of copied (the image copies them out of its cache mount): the same files,
    a fraction of the disk traffic."""
    env = {"UV_OFFLINE": "1", "UV_NO_CONFIG": "1", "UV_NO_PROGRESS": "1",
           "UV_LINK_MODE": "hardlink"}
    if "UV_CACHE_DIR" in os.environ:
        env["UV_CACHE_DIR"] = os.environ["UV_CACHE_DIR"]
    return env


def test_image_holds_exactly_the_locked_runtime_set(image: Image) -> None:
    member = service(image.name)
    report = inspect_environment(image, sorted(members()[n].package for n in closure(member.name)))
    installed = {canonicalize_name(n): v for n, v in report["distributions"].items()}
    expected = locked_runtime_set(member.name)
    assert "pytest" not in installed, "dev dependencies are in the image"
    dev_only = dev_dependencies() - expected.keys()
    assert not dev_only & installed.keys(), (
        f"dev dependencies in the image: {sorted(dev_only & installed.keys())}")
    others = {m for m in members() if m not in closure(member.name)}
    assert not others & installed.keys(), f"other members installed: {sorted(others & installed.keys())}"
    assert installed == expected, "the image's packages differ from uv export --no-dev --package"
    for package, module in report["modules"].items():
        assert Path(module["folder"]).is_relative_to(image.venv), (
            f"{package} is imported from {module['folder']}, not from the image's environment")


def test_image_ships_every_data_file_of_its_packages(image: Image) -> None:
    packages = {members()[n].package: members()[n] for n in closure(service(image.name).name)}
    report = inspect_environment(image, sorted(packages))
    for package, member in packages.items():
        source = member.folder / "src" / package
        wanted = {p.relative_to(source).as_posix() for p in source_files(member)
                  if p.is_relative_to(source)}
        missing = wanted - set(report["modules"][package]["files"])
        assert not missing, f"{package} in the image lacks {sorted(missing)}"


def test_image_command_starts_the_service_up_to_its_store(image: Image) -> None:
    # Nothing listens on the store's and Kafka's port: start-up gets as far as the store.
    with socket.socket() as nothing_listens:
        nothing_listens.bind(("127.0.0.1", 0))
        port = nothing_listens.getsockname()[1]
        env = {**image.env, "CONVENE_MONGO_URL": f"mongodb://127.0.0.1:{port}/",
               "CONVENE_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}", "CONVENE_MONGO_TIMEOUT_S": "1",
               "CONVENE_HTTP_HOST": "127.0.0.1", "CONVENE_HTTP_PORT": "0"}
        run = subprocess.run(image.cmd, cwd=image.root, env=env, capture_output=True, text=True,
                             timeout=60)
    lines = [json.loads(line) for line in run.stdout.splitlines()]
    messages = [line["message"] for line in lines]
    assert {line["service"] for line in lines} == {image.name}, run.stdout + run.stderr
    assert "Waiting for application startup." in messages, run.stdout + run.stderr
    store = f"{image.venv}/lib/python3.11/site-packages/convene_kit/store.py"
    failure = next((m for m in messages if "Traceback" in m), "")
    assert store in failure and "in connect" in failure, failure or run.stdout + run.stderr
    assert messages[-1] == "Application startup failed. Exiting."
    assert run.returncode == UVICORN_STARTUP_FAILURE


_INSPECT = """
import importlib, importlib.metadata, json, pathlib, sys
modules = {}
for name in sys.argv[1:]:
    folder = pathlib.Path(importlib.import_module(name).__file__).parent
    files = [p.relative_to(folder).as_posix() for p in folder.rglob("*")
             if p.is_file() and "__pycache__" not in p.parts]
    modules[name] = {"folder": str(folder), "files": sorted(files)}
distributions = {d.metadata["Name"]: d.version for d in importlib.metadata.distributions()}
print(json.dumps({"modules": modules, "distributions": distributions}))
"""


def inspect_environment(image: Image, packages: list[str]) -> dict:
    run = subprocess.run([str(image.venv / "bin/python"), "-I", "-c", _INSPECT, *packages],
                         cwd=image.root, env=image.env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@cache
def locked_runtime_set(package: str) -> dict[str, str]:
    """What uv.lock says ``package`` needs without dev dependencies: name -> version."""
    export = subprocess.run(
        [host_uv(), "export", "--frozen", "--no-dev", "--package", package, "--no-hashes",
         "--no-header", "--no-annotate", "--no-editable"],
        cwd=ROOT, capture_output=True, text=True, check=True)
    environment = default_environment()
    expected = {}
    for line in export.stdout.splitlines():
        if line.startswith("./"):
            member = next(m for m in members().values() if m.relative == line[2:].strip())
            expected[member.name] = tomllib.loads(
                (member.folder / "pyproject.toml").read_text())["project"]["version"]
        elif line and not line.startswith("#"):
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate(environment):
                expected[canonicalize_name(requirement.name)] = str(requirement.specifier)[2:]
    return expected


def dev_dependencies() -> set[str]:
    root = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return {canonicalize_name(Requirement(d).name) for d in root["dependency-groups"]["dev"]}
