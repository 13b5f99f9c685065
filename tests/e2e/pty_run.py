"""Runs a command on a pseudo-terminal, as a person at a terminal would:
its output (stdout and stderr, as the terminal shows them) goes to this
process's stdout as it comes, this process's stdin is its keyboard, and the
exit code is the command's. Portable where util-linux `script` is not
(macOS's takes other flags).

    python tests/e2e/pty_run.py COMMAND [ARG...]
"""

import os
import pty
import sys


def main():
    status = pty.spawn(sys.argv[1:])
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
