"""The command line as a user meets it: help texts with examples, one-line errors."""

import os
import subprocess
import sys

import pytest
import typer.main

import cli

COMMANDS = sorted(c.name for c in typer.main.get_command(cli.app).commands.values())


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import cli; cli.main()", *args], capture_output=True, text=True
    )


def test_top_level_help_lists_every_command():
    result = run_cli("--help")
    assert result.returncode == 0
    for name in COMMANDS:
        assert name in result.stdout


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_help_has_an_example(name):
    result = run_cli(name, "--help")
    assert result.returncode == 0, result.stderr
    assert "Example" in result.stdout and f"xtgeo {name}" in result.stdout


def test_user_error_is_one_line_without_traceback(tmp_path):
    result = run_cli("synth", str(tmp_path / "out"), "--scenes", "0")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "--scenes" in lines[0]
    assert not (tmp_path / "out" / "labels.csv").exists()


def test_bench_lists_the_benchmark_scripts_and_rejects_unknown_names():
    listed = run_cli("bench")
    assert listed.returncode == 0
    for name in ("score", "synth", "model"):
        assert name in listed.stdout
    unknown = run_cli("bench", "no-such-benchmark")
    assert unknown.returncode == 1 and "no-such-benchmark" in unknown.stderr


def test_version(xtgeo_cli):
    import xtgeo

    status, out, _ = xtgeo_cli("--version")
    assert status == 0 and out.strip() == f"xtgeo {xtgeo.__version__}"


def test_hand_written_defaults_survive_rich_markup():
    result = subprocess.run([sys.executable, "-c", "import cli; cli.main()", "predict", "--help"],
                            capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    assert "[default: the checkpoint's]" in result.stdout
    assert "[default: the CPU cores shared out per GPU" in result.stdout


def test_short_c_means_config_only():
    command = typer.main.get_command(cli.app)
    owners = {name for name, c in command.commands.items() for p in c.params if "-c" in p.opts}
    assert owners == {"train"}
    assert [p.opts for p in command.commands["train"].params if "-c" in p.opts] == [["--config", "-c"]]


def test_the_process_entry_point_freezes_its_objects_at_the_end_and_a_caller_keeps_its_gc(tmp_path):
    """``xtgeo`` as a process skips the interpreter's last garbage collections (frozen objects);
    ``cli.main(argv)`` called inside a program (as the tests do) leaves its collector alone."""
    report = "import atexit, gc; atexit.register(lambda: print('frozen', gc.get_freeze_count() > 0))"
    for entry, frozen in (("cli.main()", True), ("cli.main(['--help'])", False)):
        code = f"{report}; import cli; {entry}"
        result = subprocess.run([sys.executable, "-c", code, "--help"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert "Usage" in result.stdout and result.stdout.strip().splitlines()[-1] == f"frozen {frozen}"
