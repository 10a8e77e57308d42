"""Running one prediction of an external program: fresh folders in, one command, files out.

A command is a template holding ``{inputs}`` and ``{outputs}`` (both required), split
like a POSIX shell line (:func:`shlex.split`) and run **without a shell**: each token is
one argument, the placeholders are replaced inside tokens by the call's folders, and
nothing else is expanded (no globbing, pipes, variables or ``~``; other braces stay as
they are). So no path and no case id ever passes through a shell. Where shell features
are wanted, ask for a shell: ``sh -c 'cd model && python run.py "$0" "$1"' {inputs} {outputs}``.
``{python}`` is the interpreter running simedit (``{python} -m mylab.predict {inputs}
{outputs}``), for Python programs installed beside it.

Each call gets ``<root>/call-NNNNNN/{inputs,outputs}`` under a temporary root of its own
per method (``tempfile.mkdtemp(prefix="simedit-external-")``), whose names never hold
a case id; the program's stdout and stderr go to files next to them. The program runs
in the method's working folder (``MethodContext.workdir``: the protocol's folder, else
the current one), in a session of its own; a time limit kills its whole process group,
and so does the end of every call (stragglers the program left behind; a server meant
to outlive a call must detach itself with ``setsid``). After reading the output the
call's folders are deleted, unless ``keep`` (for debugging) keeps them and says where.

Every failure raises :class:`ExternalProgramError`, one line naming the method and the
command, what went wrong, and the last lines of the program's stderr. A time-out raises
its subclass :class:`ProgramTimedOut`, also a :class:`~benchmark.method.CallTimedOut`:
the session records that round as timed out and goes on, as the challenge does.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from benchmark.method import CallTimedOut

PLACEHOLDERS = ("{inputs}", "{outputs}")
#: Placeholder for the Python interpreter running simedit, as a command's program: a
#: Python program then runs in simedit's environment without ``python`` on PATH, and
#: the command (its digest, its table name) stays the same on every machine.
PYTHON = "{python}"
TEMP_PREFIX = "simedit-external-"
#: How much of the program's stderr an error message shows.
TAIL_LINES, TAIL_CHARS = 5, 400
_TAIL_BYTES = 64 * 1024
_CONTAINER_RUNNERS = {"docker", "podman", "nvidia-docker", "singularity", "apptainer"}
_SHELLS = {"sh", "bash", "dash", "zsh"}
_SCRIPT = re.compile(r"[^-].*\.(py|sh|bash|r|R|jl|pl|rb|js)")
#: Options of ``docker run`` and friends that take the next token as their value.
_VALUED = {"-v", "--volume", "-e", "--env", "--env-file", "-m", "--memory", "--memory-swap", "-w", "--workdir",
           "-u", "--user", "-p", "--publish", "--name", "--gpus", "--mount", "--entrypoint", "--network",
           "--net", "--shm-size", "--ipc", "--runtime", "--platform", "--cpus", "--cpuset-cpus", "--device",
           "-h", "--hostname", "-l", "--label", "--add-host", "--ulimit", "--cap-add", "--cap-drop",
           "--security-opt", "--stop-timeout", "--pull", "--cidfile", "--pid", "--tmpfs", "--log-driver",
           "--log-opt", "--restart", "-B", "--bind", "--home", "--pwd", "--overlay"}

T = TypeVar("T")


class ExternalProgramError(RuntimeError):
    """An external method's program failed; the one-line message says how, with its stderr's tail."""


class ProgramTimedOut(ExternalProgramError, CallTimedOut):
    """The program passed its time limit and was killed: the session records the round as
    timed out (``on_timeout`` says what stands in for its prediction) instead of failing."""


class BadOutput(ValueError):
    """What a program wrote cannot be used (the reader's words, completed by the runner)."""


@dataclass(frozen=True)
class Command:
    """A command template, split into arguments.

    Attributes:
        template: as the spec wrote it.
        argv: its :func:`shlex.split` tokens, placeholders still in them.
    """

    template: str
    argv: tuple[str, ...]

    def filled(self, inputs: Path, outputs: Path) -> list[str]:
        """The arguments of one call: placeholders replaced inside tokens, nothing else touched."""
        return [t.replace("{inputs}", str(inputs)).replace("{outputs}", str(outputs)).replace(PYTHON, sys.executable)
                for t in self.argv]

    @property
    def digest(self) -> str:
        """Six hex digits of the command's arguments: equal commands, equal digests."""
        return hashlib.sha1("\0".join(self.argv).encode()).hexdigest()[:6]


def parse_command(template: str, spec_name: str) -> Command:
    """Check and split the command of a ``spec_name=COMMAND`` spec.

    Raises:
        ValueError: empty, unbalanced quotes, a placeholder missing, or a program not on
            PATH; the message shows a working spelling (the registry adds the method's name).
    """
    example = f"{spec_name}=python predict.py {{inputs}} {{outputs}}"
    try:
        argv = tuple(shlex.split(template or ""))
    except ValueError as error:
        raise ValueError(f"cannot split the command {template!r} ({error}); check its quotes") from None
    if not argv:
        raise ValueError(f"needs a command after '=', e.g. {example}")
    missing = [p for p in PLACEHOLDERS if not any(p in token for token in argv)]
    if missing:
        raise ValueError(f"the command {template!r} lacks {' and '.join(missing)}; the program is told its input "
                         f"and output folders only through them, e.g. {example}")
    if (not any(p in argv[0] for p in (*PLACEHOLDERS, PYTHON)) and "/" not in argv[0]
            and shutil.which(argv[0]) is None):
        raise ValueError(f"program {argv[0]!r} of the command {template!r} is not on PATH; install it or give its path")
    return Command(template, argv)


def program_name(argv: Sequence[str]) -> str:
    """A short readable name for what a command runs: the script's stem (``predict`` for
    ``python predict.py ...``), the module (``python -m a.b`` gives ``b``), the container
    image (``docker run ... lab/team:latest ...`` gives ``team``), else the program's own
    name; sanitised to ``[A-Za-z0-9._-]``, at most 32 characters."""
    return _sanitise(_program(list(argv)))


def method_name(exchange: str, command: Command, name: str | None = None) -> str:
    """``<exchange>:<program>-<digest>``, or ``name`` when one is given: the digest keeps two
    different commands running the same script apart in result tables."""
    if name is not None:
        if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name):
            raise ValueError(f"name= must be a non-empty name without spaces, got {name!r}")
        return name
    return f"{exchange}:{program_name(command.argv)}-{command.digest}"


def _program(argv: list[str]) -> str:
    head = "python" if argv[0] == PYTHON else Path(argv[0]).name
    rest = argv[1:]
    if head in _CONTAINER_RUNNERS:
        image = _container_image(rest)
        if image:  # registry/lab/team:tag@sha256:... or team.sif
            name = image.split("@")[0].rsplit("/", 1)[-1].split(":")[0]
            return name[: -len(".sif")] if name.endswith(".sif") else name
    if head in _SHELLS and "-c" in rest and rest.index("-c") + 1 < len(rest):
        try:
            inner = shlex.split(rest[rest.index("-c") + 1])
        except ValueError:
            inner = []
        if inner:
            return _program(inner)
    if "-m" in rest and rest.index("-m") + 1 < len(rest):
        return rest[rest.index("-m") + 1].rsplit(".", 1)[-1]
    for token in rest:
        if not any(p in token for p in PLACEHOLDERS) and _SCRIPT.fullmatch(token):
            return Path(token).stem
    return head if argv[0] == PYTHON else Path(argv[0]).stem or head


def _container_image(tokens: list[str]) -> str | None:
    """The image a ``docker/podman run`` or ``singularity/apptainer run|exec`` names."""
    i = 0
    while i < len(tokens) and tokens[i] in ("container", "run", "exec", "--rm"):
        i += 1
    while i < len(tokens):
        token = tokens[i]
        if token.startswith("-"):
            i += 2 if token in _VALUED else 1
            continue
        return token
    return None


def _sanitise(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")[:32] or "program"


def stderr_tail(path: Path, lines: int = TAIL_LINES, chars: int = TAIL_CHARS) -> str:
    """The last ``lines`` non-blank lines of a text file, stripped and joined with " | ",
    cut to the last ``chars`` characters; "(empty)" when there are none."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - _TAIL_BYTES))
            text = f.read().decode("utf-8", errors="replace")
    except OSError:
        return "(not captured)"
    kept = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    joined = " | ".join(kept) or "(empty)"
    return joined if len(joined) <= chars else "..." + joined[-(chars - 3):]


@dataclass(frozen=True)
class CallFolders:
    """One call's folders and files (``<root>/call-NNNNNN/``)."""

    folder: Path

    @property
    def inputs(self) -> Path:
        return self.folder / "inputs"

    @property
    def outputs(self) -> Path:
        return self.folder / "outputs"

    @property
    def stdout(self) -> Path:
        return self.folder / "stdout.txt"

    @property
    def stderr(self) -> Path:
        return self.folder / "stderr.txt"


class ProgramRunner:
    """Runs one method's command, one call at a time (see module docstring).

    Attributes:
        who: the method's name, for messages.
        command: the parsed template.
        workdir: where the program runs.
        timeout_s: wall-clock limit per call (None: none).
        keep: keep every call's folders (and say where) instead of deleting them.
        root: this method's temporary folder; ``root/cache`` holds what calls share.
        last_ms: wall time of the last call's program run (NaN when it did not start).
    """

    def __init__(self, who: str, command: Command, workdir: Path, timeout_s: float | None = None,
                 keep: bool = False) -> None:
        if timeout_s is not None and not float(timeout_s) > 0:
            raise ValueError(f"timeout_s must be a positive number of seconds or null, got {timeout_s!r}")
        self.who, self.command, self.workdir = who, command, Path(workdir)
        self.timeout_s = None if timeout_s is None else float(timeout_s)
        self.keep = bool(keep)
        self.root = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
        self.cache = self.root / "cache"
        self.cache.mkdir()
        self.last_ms = float("nan")
        self._calls = 0
        if not self.keep:
            self._cleanup = weakref.finalize(self, shutil.rmtree, self.root, ignore_errors=True)

    def call(self, write: Callable[[Path], None], read: Callable[[Path], T]) -> T:
        """Make fresh folders, ``write(inputs)``, run the command, return ``read(outputs)``.

        ``read`` raises :class:`BadOutput` for a missing or unusable output; it becomes an
        ExternalProgramError. The folders are deleted afterwards (unless ``keep``).
        """
        self._calls += 1
        self.last_ms = float("nan")
        folders = CallFolders(self.root / f"call-{self._calls:06d}")
        folders.folder.mkdir(mode=0o755)
        folders.inputs.mkdir(mode=0o755)
        folders.outputs.mkdir()
        folders.outputs.chmod(0o777)  # a container running as another user must write there
        try:
            write(folders.inputs)
            ms = self._run(folders)
            try:
                return read(folders.outputs)
            except BadOutput as error:
                raise self._error(folders, f"{error} after {ms / 1e3:.1f} s") from None
        finally:
            if self.keep:
                print(f"method {self.who!r}: kept the call's folders in {folders.folder}", file=sys.stderr)
            else:
                shutil.rmtree(folders.folder, ignore_errors=True)

    def _run(self, folders: CallFolders) -> float:
        """Run the command for ``folders``; its wall time in ms. Raises on failure."""
        argv = self.command.filled(folders.inputs, folders.outputs)
        start = time.perf_counter()
        with open(folders.stdout, "wb") as out, open(folders.stderr, "wb") as err:
            try:
                process = subprocess.Popen(argv, cwd=self.workdir, stdin=subprocess.DEVNULL, stdout=out,
                                           stderr=err, start_new_session=True)
            except OSError as error:
                raise self._error(folders, f"could not start ({error}; relative paths start at {self.workdir})") from None
            try:
                code = process.wait(timeout=self.timeout_s)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                self.last_ms = (time.perf_counter() - start) * 1e3
                raise self._error(folders, f"timed out after {self.timeout_s:g} s (its process group was killed; "
                                           "raise timeout_s if it needs longer)", ProgramTimedOut) from None
            except BaseException:  # interrupted: leave nothing running
                _kill_group(process)
                raise
            _kill_group(process)  # stragglers it left in its session
        self.last_ms = ms = (time.perf_counter() - start) * 1e3
        if code < 0:
            name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
            raise self._error(folders, f"was killed by signal {-code} ({name}) after {ms / 1e3:.1f} s")
        if code != 0:
            raise self._error(folders, f"exited with code {code} after {ms / 1e3:.1f} s")
        return ms

    def _error(self, folders: CallFolders, what: str,
               kind: type[ExternalProgramError] = ExternalProgramError) -> ExternalProgramError:
        kept = f" (its folders are kept in {folders.folder})" if self.keep else " (keep=true keeps its folders)"
        message = (f"method {self.who!r}: command `{self.command.template}` {what}{kept}; "
                   f"stderr: {stderr_tail(folders.stderr)}")
        return kind(message.replace("\r", " ").replace("\n", " "))


def _kill_group(process: subprocess.Popen) -> None:
    """SIGKILL the process's group (its own session: the program and what it spawned), then reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()
