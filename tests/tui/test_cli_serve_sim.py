"""`repair-tui serve-sim`: starts, prints its URL, answers the openai package, stops on Ctrl-C."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import openai
import pytest
from repair_tui.tui.cli import main


def test_serve_sim_end_to_end(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "repair_tui.tui", "serve-sim", "--port", "0", "--api-key", "k"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(3)]
        assert "simulated" in banner[0]
        match = re.search(r"base URL: (http://127\.0\.0\.1:\d+/v1)", banner[1])
        assert match, banner
        api = openai.OpenAI(base_url=match.group(1), api_key="k")
        reply = api.chat.completions.create(
            model="sim", messages=[{"role": "user", "content": "def f(x):\n    '''Return x.'''\n"}], n=2
        )
        assert len(reply.choices) == 2
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=match.group(1), api_key="wrong").models.list()
        api.close()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "stopped" in err


def test_sigterm_stops_the_server_cleanly() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "repair_tui.tui", "serve-sim", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    assert "simulated" in proc.stdout.readline()
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "stopped" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--faults", "429,404"], "unknown kind '404'"),
        (["--fault-rate", "2"], "--fault-rate must be between 0 and 1"),
        (["--latency", "-1"], "must not be negative"),
        (["--dataset", "jsonl:/nonexistent/tasks.jsonl"], "tasks.jsonl"),
    ],
)
def test_bad_options_exit_2_with_one_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve-sim", "--port", "0", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_busy_port_is_a_user_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert main(["serve-sim", "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err
