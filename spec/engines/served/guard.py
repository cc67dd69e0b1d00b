"""`python spec/engines/served/guard.py PARENT_PID COMMAND...`: run a server command and end it
(its whole process group) when the process that started it is gone, however that process ended:
a validation killed with SIGKILL cannot run its own clean-up, and must still leave no server
behind. The guard leads the process group the server runs in; SIGTERM to it stops the server."""

import os
import signal
import subprocess
import sys
import time


def main() -> int:
    parent, command = int(sys.argv[1]), sys.argv[2:]
    server = subprocess.Popen(command)

    def stop(*_):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the group signal below reaches the guard too
        os.killpg(os.getpgid(0), signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(os.getpgid(0), signal.SIGKILL)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    while server.poll() is None:
        try:
            os.kill(parent, 0)
        except ProcessLookupError:
            stop()
        time.sleep(0.5)
    return server.returncode


if __name__ == "__main__":
    sys.exit(main())
