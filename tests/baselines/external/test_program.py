import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from baselines.external.program import (ExternalProgramError, ProgramRunner, method_name, parse_command,
                                        program_name, stderr_tail)
from benchmark.edits import EditHistory
from benchmark.registry import MethodOptions, PluginError, make_method
from benchmark.session import SessionConfig, run_session
from policies.reference_users import RitmClick
from tests.baselines.external.helpers import alive, misbehaving
from tests.helpers import tumour_case


@pytest.mark.parametrize("exchange", ["process", "cvpr25"])
def test_a_template_without_both_placeholders_is_refused(exchange):
    with pytest.raises(PluginError, match=r"lacks \{outputs\}.*e\.g\. " + exchange + r"=python predict\.py"):
        make_method(f"{exchange}=python predict.py {{inputs}}")
    with pytest.raises(PluginError, match=r"lacks \{inputs\} and \{outputs\}"):
        make_method(f"{exchange}=python predict.py in out")
    with pytest.raises(PluginError, match="needs a command"):
        make_method(f"{exchange}=")
    with pytest.raises(PluginError, match="check its quotes"):
        make_method(f"{exchange}=python 'predict.py {{inputs}} {{outputs}}")
    with pytest.raises(PluginError, match="not on PATH"):
        make_method(f"{exchange}=no-such-program-here {{inputs}} {{outputs}}")


def test_placeholders_are_replaced_inside_tokens_and_nothing_else_is_expanded(tmp_path):
    command = parse_command("cat --in={inputs} -v {outputs}:/w/out 'a b' '{x}' $HOME *.py", "process")
    assert command.filled(tmp_path / "i", tmp_path / "o") == [
        "cat", f"--in={tmp_path / 'i'}", "-v", f"{tmp_path / 'o'}:/w/out", "a b", "{x}", "$HOME", "*.py"]


def test_names_are_readable_and_tell_commands_apart():
    assert program_name(["python", "-u", "tools/predict.py", "{inputs}", "{outputs}"]) == "predict"
    assert program_name(["python", "-m", "lab.seg.run", "{inputs}", "{outputs}"]) == "run"
    docker = ("docker container run --gpus device=0 -m 32G --name x --rm -v {inputs}:/workspace/inputs/ "
              "-v {outputs}:/workspace/outputs/ ghcr.io/lab/team:latest /bin/bash -c 'sh predict.sh'")
    assert program_name(parse_command(docker, "cvpr25").argv) == "team"
    assert program_name(["apptainer", "exec", "--nv", "-B", "{inputs}:/in", "model.sif", "run", "{outputs}"]) == "model"
    assert program_name(["sh", "-c", "cd m && python infer.py \"$0\" \"$1\"", "{inputs}", "{outputs}"]) == "infer"
    assert program_name(["./my model!", "{inputs}", "{outputs}"]) == "my_model"
    a = method_name("process", parse_command("python predict.py {inputs} {outputs}", "process"))
    b = method_name("process", parse_command("python predict.py --fast {inputs} {outputs}", "process"))
    assert re.fullmatch(r"process:predict-[0-9a-f]{6}", a) and a != b
    assert a == method_name("process", parse_command("python  predict.py {inputs}   {outputs}", "process"))
    assert method_name("process", parse_command("python p.py {inputs} {outputs}", "process"), "mine") == "mine"


def test_stderr_tail_keeps_the_last_five_lines_on_one_line(tmp_path):
    path = tmp_path / "stderr.txt"
    path.write_text("\n".join(f"line {i}" for i in range(20)) + "\n\n")
    assert stderr_tail(path) == "line 15 | line 16 | line 17 | line 18 | line 19"
    path.write_text("x" * 1000 + "\nend")
    tail = stderr_tail(path)
    assert len(tail) == 400 and tail.endswith("x | end") and tail.startswith("...")
    path.write_text("")
    assert stderr_tail(path) == "(empty)"


def test_a_crash_names_the_method_the_command_the_exit_code_and_shows_stderr():
    method = make_method(f"process={misbehaving('crash')}")
    case = tumour_case()
    with pytest.raises(ExternalProgramError) as caught:
        run_session(case, method, RitmClick(), SessionConfig(max_rounds=2), np.random.default_rng(0))
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"method {method.name!r}: command `{misbehaving('crash')}` exited with code 3 after ")
    assert message.endswith("raise ValueError(\"boom: the weights are missing\") | ValueError: boom: the weights "
                            "are missing")
    assert "Traceback (most recent call last): |" in message and "keep=true keeps its folders" in message
    assert method.last_forward_ms > 0
    assert list(method.runner.root.iterdir()) == [method.runner.cache]  # the call's folders are gone


def test_a_hanging_program_is_killed_with_its_children_at_the_time_limit(tmp_path):
    pids = tmp_path / "pids.txt"
    method = make_method(f"process[timeout_s=1]={misbehaving('hang', pids)}")
    start = time.perf_counter()
    with pytest.raises(ExternalProgramError, match=r"timed out after 1 s \(its process group was killed"):
        method.predict(tumour_case().without_label(), EditHistory())
    assert 1.0 <= time.perf_counter() - start < 4.0
    program, child = map(int, pids.read_text().split())
    deadline = time.perf_counter() + 2.0
    while (alive(program) or alive(child)) and time.perf_counter() < deadline:
        time.sleep(0.05)
    assert not alive(program) and not alive(child)


def test_the_program_runs_without_a_shell_in_the_workdir_and_keep_says_where(tmp_path, capsys):
    record = tmp_path / "argv.json"
    workdir = tmp_path / "protocol folder"
    workdir.mkdir()
    case = tumour_case(case_id="BraTS-case-77; echo $HOME")
    method = make_method(f"process[keep=true]={misbehaving('argv', record)}", MethodOptions(workdir=workdir))
    method.predict(case.without_label(), EditHistory())
    seen = json.loads(record.read_text())
    assert seen["cwd"] == str(workdir)
    assert seen["inputs"] == ["image.nii", "request.json"]
    assert not any("BraTS-case-77" in a for a in seen["argv"])  # the case id is data, never an argument
    inputs, outputs = map(os.path.realpath, seen["argv"][2:4])
    assert os.path.basename(os.path.dirname(inputs)) == "call-000001"
    assert str(method.runner.root) in inputs and "BraTS" not in inputs + outputs
    kept = os.path.dirname(inputs)
    assert os.path.isdir(kept) and f"kept the call's folders in {kept}" in capsys.readouterr().err


def test_timeout_must_be_positive():
    with pytest.raises(PluginError, match="timeout_s must be a positive number"):
        make_method(f"process[timeout_s=0]={sys.executable} p.py {{inputs}} {{outputs}}")


def test_a_program_that_cannot_start_is_reported(tmp_path):
    runner = ProgramRunner("m", parse_command("./missing.sh {inputs} {outputs}", "process"), tmp_path)
    with pytest.raises(ExternalProgramError, match=r"could not start .*relative paths start at"):
        runner.call(lambda inputs: None, lambda outputs: None)


def test_python_placeholder_runs_simedits_interpreter_and_keeps_the_command_portable():
    command = parse_command("{python} -m baselines.external.paint_clicks_cvpr25 {inputs} {outputs}", "cvpr25")
    assert command.filled(Path("/i"), Path("/o"))[0] == sys.executable
    assert program_name(command.argv) == "paint_clicks_cvpr25" and "{python}" in command.template
    assert program_name(parse_command("{python} predict.py {inputs} {outputs}", "cvpr25").argv) == "predict"
