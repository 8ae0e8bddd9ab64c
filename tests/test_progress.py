"""Progress bars (tqdm on stderr): shown on a terminal, off when stderr is not one (pipes, CI logs, tests)."""

import fcntl
import io
import os
import pty
import struct
import subprocess
import sys
import termios

from lrpref._progress import progress


def test_off_when_stderr_is_not_a_terminal(capsys):
    assert list(progress(range(3), "counting")) == [0, 1, 2]
    assert capsys.readouterr().err == ""


def test_shown_when_asked(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(sys, "stderr", stream)
    assert list(progress(range(3), "counting", enabled=True)) == [0, 1, 2]
    assert "counting:   0%" in stream.getvalue() and "0/3" in stream.getvalue()


def test_shown_on_a_terminal():
    """In a pseudo-terminal the bar appears on stderr by default (what a user of lrpref demo sees)."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # a terminal 100 columns wide
    code = "from lrpref._progress import progress\nfor _ in progress(range(4), 'steps'): pass\n"
    child = subprocess.Popen([sys.executable, "-c", code], stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    output = b""
    while True:  # read while the child writes; the terminal reports an error once the child has closed it
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    assert child.wait(timeout=60) == 0
    assert b"steps:   0%" in output and b"0/4" in output
