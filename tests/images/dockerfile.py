"""Just enough of Docker's build semantics to check and replay the services' Dockerfiles
without a Docker engine: the Dockerfile syntax the images use, ``.dockerignore`` matching,
and a replay of a stage's ``COPY``, ``ENV``, ``WORKDIR`` and ``RUN`` on this machine, with
every absolute container path moved under a folder standing for the stage's root.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

_FLAG = re.compile(r"--([a-z-]+)=(\S+)\s+")
_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class Instruction:
    """One instruction: its keyword (upper case), leading ``--name=value`` flags, the rest."""

    keyword: str
    flags: tuple[tuple[str, str], ...]
    args: str
    line: int

    def flag_values(self, name: str) -> list[str]:
        return [value for key, value in self.flags if key == name]

    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form CMD/ENTRYPOINT/RUN, None for the shell form."""
        try:
            value = json.loads(self.args)
        except ValueError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None

    def env_pairs(self) -> list[tuple[str, str]]:
        """ENV's ``key=value`` pairs (the legacy ``ENV key value`` form is refused)."""
        pairs = []
        for word in shlex.split(self.args):
            key, sep, value = word.partition("=")
            if not sep:
                raise ValueError(f"line {self.line}: ENV without key=value: {self.args!r}")
            pairs.append((key, value))
        return pairs


@dataclass
class Stage:
    """A build stage: ``FROM base [AS name]`` and the instructions after it."""

    base: str
    name: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def env(self) -> dict[str, str]:
        """Every ENV of the stage, unexpanded (later ones win)."""
        return dict(pair for i in self.all("ENV") for pair in i.env_pairs())


class Dockerfile:
    """A parsed Dockerfile: comments dropped, continuation lines joined, split into stages."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.instructions = list(_instructions(path.read_text(encoding="utf-8")))
        self.stages: list[Stage] = []
        for instruction in self.instructions:
            if instruction.keyword == "FROM":
                words = instruction.args.split()
                name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
                self.stages.append(Stage(words[0], name, instruction.line))
            elif not self.stages:
                raise ValueError(f"{path}:{instruction.line}: {instruction.keyword} before FROM")
            else:
                self.stages[-1].instructions.append(instruction)

    @property
    def final(self) -> Stage:
        return self.stages[-1]

    def stage(self, name: str) -> Stage:
        return next(s for s in self.stages if s.name == name)


def _instructions(text: str):
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # comments (and parser directives) may sit inside continuations too
        if not pending:
            start = number
        if line.endswith("\\"):
            pending.append(line[:-1].strip())
            continue
        pending.append(line)
        keyword, _, rest = " ".join(pending).partition(" ")
        pending = []
        flags = []
        rest = rest.strip() + " "
        while match := _FLAG.match(rest):
            flags.append((match.group(1), match.group(2)))
            rest = rest[match.end():]
        yield Instruction(keyword.upper(), tuple(flags), rest.strip(), start)
    if pending:
        raise ValueError("the Dockerfile ends inside a continuation line")


class DockerIgnore:
    """``.dockerignore`` as BuildKit reads it: patterns in order, the last match wins, ``!``
    re-includes, ``**`` spans folders, and a pattern matching a folder matches its content."""

    def __init__(self, text: str) -> None:
        self.patterns: list[tuple[re.Pattern[str], bool]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negated = line.startswith("!")
            pattern = os.path.normpath(line.lstrip("!").strip()).lstrip("/")
            self.patterns.append((re.compile(_glob_regex(pattern)), negated))

    def excludes(self, relative: str) -> bool:
        parts = relative.split("/")
        prefixes = ["/".join(parts[:n]) for n in range(1, len(parts) + 1)]
        excluded = False
        for regex, negated in self.patterns:
            if any(regex.fullmatch(prefix) for prefix in prefixes):
                excluded = not negated
        return excluded


def _glob_regex(pattern: str) -> str:
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.index("]", i)
            out.append(pattern[i:end + 1])
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


@dataclass
class Replay:
    """Where a replayed stage lives: ``root`` stands for ``/`` of the stage's filesystem."""

    root: Path
    context: Path
    ignore: DockerIgnore
    env: dict[str, str]
    workdir: str = "/"
    commands: list[list[str]] = field(default_factory=list)

    def host(self, container_path: str) -> Path:
        return self.root / os.path.normpath(container_path).lstrip("/")

    def absolute(self, container_path: str) -> str:
        return container_path if container_path.startswith("/") else f"{self.workdir}/{container_path}"


StageCopy = Callable[[Instruction, Replay], None]


def replay_stage(stage: Stage, replay: Replay, *, copy_from: Mapping[str, StageCopy],
                 run_env: Mapping[str, str] = {}, timeout: float = 300) -> Replay:
    """Apply ``stage``'s instructions to ``replay``. ``COPY --from=<stage>`` is delegated to
    ``copy_from[<stage>]`` (the caller knows what those stages hold); ``RUN`` executes its
    command (no shell: a command with shell syntax is refused) with the stage's
    environment plus ``run_env``, in the working directory."""
    for instruction in stage.instructions:
        keyword = instruction.keyword
        if keyword == "ENV":
            for key, value in instruction.env_pairs():
                replay.env[key] = _expand(_move_paths(value, replay), replay.env)
        elif keyword == "WORKDIR":
            replay.workdir = replay.absolute(instruction.args)
            replay.host(replay.workdir).mkdir(parents=True, exist_ok=True)
        elif keyword == "COPY":
            source_stage = instruction.flag_values("from")
            if source_stage:
                copy_from[source_stage[0]](instruction, replay)
            else:
                _copy_from_context(instruction, replay)
        elif keyword == "RUN":
            command = shell_free_command(instruction)
            replay.commands.append(command)
            done = subprocess.run(command, cwd=replay.host(replay.workdir),
                                  env={**replay.env, **run_env}, capture_output=True, text=True,
                                  timeout=timeout)
            if done.returncode:
                raise AssertionError(f"line {instruction.line}: {shlex.join(command)} exited "
                                     f"{done.returncode}:\n{done.stdout}{done.stderr}")
    return replay


def shell_free_command(instruction: Instruction) -> list[str]:
    """A RUN's argument vector; raises if it needs a shell (operators, substitutions)."""
    argv = instruction.exec_form() or shlex.split(instruction.args)
    tricks = {"&&", "||", ";", "|", ">", ">>", "<", "&"}
    if any(word in tricks or "$" in word or "`" in word for word in argv):
        raise ValueError(f"line {instruction.line}: RUN needs a shell: {instruction.args!r}")
    return argv


def _move_paths(value: str, replay: Replay) -> str:
    # An ENV value holding container paths (PATH-like lists too) points under the root.
    return ":".join(str(replay.host(part)) if part.startswith("/") and not part.startswith("//")
                    else part for part in value.split(":"))


def _expand(value: str, env: Mapping[str, str]) -> str:
    return _VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)


def _copy_from_context(instruction: Instruction, replay: Replay) -> None:
    *sources, destination = instruction.exec_form() or instruction.args.split()
    target = replay.host(replay.absolute(destination))
    into_folder = destination.endswith("/") or len(sources) > 1
    for source in sources:
        if any(char in source for char in "*?["):
            raise ValueError(f"line {instruction.line}: wildcards are not replayed: {source}")
        relative = os.path.normpath(source).lstrip("/")
        origin = replay.context / relative
        if relative == ".":
            relative = ""
        if origin.is_dir():
            _copy_tree(origin, relative, target, replay.ignore)
        elif origin.is_file() and not replay.ignore.excludes(relative):
            path = target / origin.name if into_folder else target
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(origin, path)
        else:
            raise FileNotFoundError(f"line {instruction.line}: {source} is not in the context")


def _copy_tree(origin: Path, relative: str, target: Path, ignore: DockerIgnore) -> None:
    for path in sorted(origin.rglob("*")):
        inside = path.relative_to(origin).as_posix()
        if ignore.excludes(f"{relative}/{inside}" if relative else inside) or path.is_dir():
            continue
        (target / inside).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, target / inside)
