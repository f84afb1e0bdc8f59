"""The sandbox rules on their own: programs, commands, code paths and links out of a job."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipeline.local.sandbox import (
    SandboxError,
    check_code_paths,
    check_command,
    check_program_name,
    confined_files,
    own_file,
    program_file,
)

FIX = "name a script inside the source directory, e.g. 'train.py'"


@pytest.fixture
def job(tmp_path: Path) -> Path:
    root = tmp_path / "job"
    (root / "code").mkdir(parents=True)
    (root / "processing" / "out").mkdir(parents=True)
    return root


@pytest.mark.parametrize(
    ("program", "reason"),
    [
        ("/etc/evil.py", "is an absolute path"),
        ("../../evil.py", "climbs out of /opt/ml/code with '..'"),
        ("sub/../../evil.py", "climbs out of /opt/ml/code with '..'"),
        ("-mhttp.server", "starts with '-' (an interpreter option)"),
        (" ", "is empty"),
    ],
)
def test_program_names_that_leave_the_code_folder_are_refused(program: str, reason: str) -> None:
    with pytest.raises(SandboxError) as err:
        check_program_name(program)
    assert str(err.value) == f"sagemaker_program {program!r} {reason}; {FIX}"


def test_program_in_a_subfolder_of_the_code_is_allowed(job: Path) -> None:
    (job / "code" / "sub").mkdir()
    (job / "code" / "sub" / "train.py").write_text("")
    assert program_file("sub/train.py", job / "code") == job / "code" / "sub" / "train.py"


def test_program_that_is_a_link_out_of_the_code_folder_is_refused(
    job: Path, host_secret: Path
) -> None:
    (job / "code" / "train.py").symlink_to(host_secret)
    with pytest.raises(SandboxError) as err:
        program_file("train.py", job / "code")
    assert str(err.value) == (
        f"sagemaker_program 'train.py' is a link to {host_secret}, outside the job's code "
        "folder; ship the script itself in the source directory"
    )


def test_missing_program_is_named(job: Path) -> None:
    with pytest.raises(SandboxError, match=r"'nope.py' is not a file in the source directory"):
        program_file("nope.py", job / "code")


@pytest.mark.parametrize(
    "argv",
    [
        ["python3", "/opt/ml/processing/input/code/prep.py", "--out", "/tmp/x"],
        ["python", "-u", "/opt/ml/processing/input/code/prep.py"],
        ["/bin/bash", "/opt/ml/processing/input/entrypoint/runproc.sh", "--rows", "3"],
        ["sh", "-eu", "/opt/ml/processing/input/code/run.sh"],
    ],
)
def test_commands_running_a_script_of_the_job_pass(argv: list[str], job: Path) -> None:
    check_command(argv, job)


FIX_COMMAND = (
    "locally a processing job runs an interpreter and a script under /opt/ml "
    "(e.g. python3 /opt/ml/processing/input/code/<file>)"
)


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (
            ["python3", "/home/me/evil.py"],
            "processing entrypoint runs '/home/me/evil.py', which is not under /opt/ml",
        ),
        (
            ["python3", "/opt/ml/processing/../../../home/me/evil.py"],
            "processing entrypoint runs '/opt/ml/processing/../../../home/me/evil.py', "
            "which is not under /opt/ml",
        ),
        (
            ["python3", "evil.py"],
            "processing entrypoint runs 'evil.py', which is not under /opt/ml",
        ),
        (
            ["/usr/bin/python3", "/opt/ml/code/x.py"],
            "processing entrypoint starts '/usr/bin/python3'",
        ),
        (
            ["/opt/ml/processing/input/code/run"],
            "processing entrypoint starts '/opt/ml/processing/input/code/run'",
        ),
        (["cat", "/opt/ml/x"], "processing entrypoint starts 'cat'"),
        (
            ["python3", "-c", "print(1)"],
            "processing entrypoint passes '-c' to python3, which runs "
            "code that is not a file in the job's folder",
        ),
        (
            ["python3", "-uc", "print(1)"],
            "processing entrypoint passes '-uc' to python3, which runs "
            "code that is not a file in the job's folder",
        ),
        (
            ["python3", "-m", "http.server"],
            "processing entrypoint passes '-m' to python3, which runs "
            "code that is not a file in the job's folder",
        ),
        (
            ["bash", "-c", "cat ~/.aws/credentials"],
            "processing entrypoint passes '-c' to bash, which "
            "runs code that is not a file in the job's folder",
        ),
        (["python3", "-u"], "processing entrypoint names no script after python3"),
    ],
)
def test_commands_that_run_host_code_are_refused(argv: list[str], reason: str, job: Path) -> None:
    with pytest.raises(SandboxError) as err:
        check_command(argv, job)
    assert str(err.value) == f"{reason}; {FIX_COMMAND}"


def test_command_whose_script_links_out_of_the_job_is_refused(job: Path, host_secret: Path) -> None:
    code = job / "processing" / "input" / "code"
    code.mkdir(parents=True)
    (code / "prep.py").symlink_to(host_secret)
    with pytest.raises(SandboxError) as err:
        check_command(["python3", "/opt/ml/processing/input/code/prep.py"], job)
    assert str(err.value) == (
        f"processing script /opt/ml/processing/input/code/prep.py is a link to {host_secret}, "
        "outside the job folder; ship the script itself as a processing input"
    )


@pytest.mark.parametrize(
    ("name", "value", "part"),
    [
        ("PYTHONPATH", "/opt/ml/code:/home/me/lib", "/home/me/lib"),
        ("LD_PRELOAD", "/opt/ml/code/a.so /tmp/evil.so", "/tmp/evil.so"),
        ("BASH_ENV", "relative.sh", "relative.sh"),
        ("PYTHONSTARTUP", "/opt/ml/../../etc/x.py", "/opt/ml/../../etc/x.py"),
    ],
)
def test_code_path_variables_naming_host_paths_are_refused(
    name: str, value: str, part: str
) -> None:
    with pytest.raises(SandboxError) as err:
        check_code_paths({"MY_SETTING": "/home/me", name: value})
    assert str(err.value) == (
        f"Environment {name}={value!r} loads code from {part!r}, outside /opt/ml; locally "
        "such variables may only name paths under /opt/ml"
    )


def test_code_path_variables_under_opt_ml_and_other_variables_pass() -> None:
    check_code_paths({"PYTHONPATH": "/opt/ml/code:/opt/ml/code/lib", "DATA": "/home/me/x"})


def test_links_inside_the_job_are_stored_as_content_and_plain_files_listed(job: Path) -> None:
    out = job / "processing" / "out"
    (out / "sub").mkdir()
    (out / "sub" / "b.csv").write_text("b")
    (out / "a.csv").write_text("a")
    (job / "processing" / "elsewhere.csv").write_text("c")
    (out / "c.csv").symlink_to(job / "processing" / "elsewhere.csv")
    (out / "linked").symlink_to(out / "sub")
    (out / "dangling").symlink_to(job / "missing")
    os.mkfifo(out / "pipe")
    files = confined_files(out, job)
    assert [name for name, _ in files] == ["a.csv", "c.csv", "linked/b.csv", "sub/b.csv"]
    assert [path.read_text() for _, path in files] == ["a", "c", "b", "b"]


def test_file_link_out_of_the_job_is_refused(job: Path, host_secret: Path) -> None:
    (job / "processing" / "out" / "creds.txt").symlink_to(host_secret)
    with pytest.raises(SandboxError) as err:
        confined_files(job / "processing" / "out", job, shown_as="/opt/ml/processing/out")
    assert str(err.value) == (
        f"/opt/ml/processing/out/creds.txt is a link to {host_secret}, outside the job folder; "
        "outputs never follow links out (write the file itself into the output folder)"
    )


def test_folder_link_out_of_the_job_is_refused(job: Path, host_secret: Path) -> None:
    (job / "processing" / "out" / "sub").mkdir()
    (job / "processing" / "out" / "sub" / "aws").symlink_to(host_secret.parent)
    with pytest.raises(SandboxError, match=r"^out/sub/aws is a link to .*/host, outside"):
        confined_files(job / "processing" / "out", job)


def test_output_folder_that_is_itself_a_link_out_is_refused(job: Path, host_secret: Path) -> None:
    (job / "model").symlink_to(host_secret.parent)
    with pytest.raises(SandboxError, match=r"^model is a link to .*/host, outside"):
        confined_files(job / "model", job)


def test_link_loop_is_refused(job: Path) -> None:
    (job / "processing" / "out" / "again").symlink_to(job / "processing")
    with pytest.raises(SandboxError) as err:
        confined_files(job / "processing", job)
    assert str(err.value) == "processing/out/again is a link back to a folder above it (a loop)"


def test_hard_link_to_a_host_file_is_refused(job: Path, host_secret: Path) -> None:
    os.link(host_secret, job / "processing" / "out" / "creds.txt")
    with pytest.raises(SandboxError) as err:
        confined_files(job / "processing" / "out", job)
    assert str(err.value) == (
        "out/creds.txt is a hard link (2 names for one file); write the file itself into "
        "the output folder"
    )
    assert not own_file(job / "processing" / "out" / "creds.txt", job)
