"""The `kefu` command run in this process: what a subprocess would report
(exit code, stdout, stderr) without starting an interpreter."""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from unittest import mock


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def kefu(*args: str | bytes, env: dict[str, str] | None = None) -> Result:
    """`kefu ARGS...` with `env` added to the environment. Bytes arguments are
    decoded as the interpreter decodes argv (UTF-8, undecodable bytes kept as
    surrogates), so a bad argument reaches the command as it would from a shell."""
    from kefu.cli.main import main

    argv = [os.fsdecode(a) if isinstance(a, bytes) else a for a in args]
    out, err = io.StringIO(), io.StringIO()
    with mock.patch.dict(os.environ, env or {}), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse's refusals, and commands that exit
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            if not isinstance(exc.code, (int, type(None))):
                err.write(f"{exc.code}\n")
    return Result(int(code or 0), out.getvalue(), err.getvalue())
