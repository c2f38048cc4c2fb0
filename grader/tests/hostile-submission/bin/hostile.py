"""A submission that attacks the grading instead of doing the lab.

`server` and `client` import this and call `main(who)`. Each attack is
tried once and reported on stdout as one line, `hostile <who> <attack>:
<outcome>`, where the outcome is `DONE` or `refused: <os error>`; then
the program exits 1 without doing the lab's work, so an honest grade is 0.
The crate in ../crate tries the same attacks from its build script and
its programs.

The targets come from the environment the grader passes on (a test sets
them; the attack is `not tried` when one is unset):
  HOSTILE_HIDDEN   the hidden tests: read them and copy them to a file of our own
  HOSTILE_SPEC     the lab's spec.yaml: append a line
  HOSTILE_GRADER   the grader's executable: open it for writing, rename a file over it
  HOSTILE_RESULTS  results.json: write it, pre-create it, put a symlink there
Two attacks succeed by design and are judged by what is left afterwards:
`leave-process` (a daemon that retries the writes) and `leave-file` (a
file in /tmp named after HOSTILE_MARK).
Nothing here sends a packet: the network is only looked at, in /proc/net.
"""

import os
import socket
import struct
import sys
import time

FAKE = '{"score": 100.0, "output": "hostile", "tests": []}\n'


def outcome(attempt):
    """Runs `attempt`; `DONE`, or `refused: ` and the error it met."""
    try:
        attempt()
        return "DONE"
    except OSError as e:
        return f"refused: {e.strerror} (os error {e.errno})"


def remove_if_there(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def read_hidden(path, who):
    with open(path, "rb") as f:
        text = f.read()
    with open(f"hidden-copy-{who}-{os.getpid()}.yaml", "wb") as f:
        f.write(text)


def append_spec(path):
    with open(path, "a") as f:
        f.write("# hostile: this line was added by the submission\n")


def open_grader(path):
    # Opening is the attack: writing would follow. Mode "r+b" does not truncate.
    open(path, "r+b").close()


def rename_over_grader(path):
    # rename(2) works within one file system: our file goes beside the grader.
    mine = os.path.join(os.path.dirname(path), f".hostile-grader-{os.getpid()}")
    with open(mine, "w") as f:
        f.write("#!/bin/sh\necho hostile grader\n")
    try:
        os.rename(mine, path)
    except OSError:
        remove_if_there(mine)
        raise


def write_results(path):
    with open(path, "w") as f:
        f.write(FAKE)


def precreate_results(path):
    # Whatever is there goes first: then the file is ours, created exclusively.
    remove_if_there(path)
    with open(path, "x") as f:
        f.write(FAKE)


def symlink_results(path, who):
    mine = os.path.abspath(f"results-{who}-{os.getpid()}.json")
    with open(mine, "w") as f:
        f.write(FAKE)
    remove_if_there(path)
    os.symlink(mine, path)


def file_attacks(who):
    """(attack, variable naming its target, attempt) for every attack on a
    file: the daemon tries them again and again."""
    return [
        ("read-hidden", "HOSTILE_HIDDEN", lambda p: read_hidden(p, who)),
        ("write-spec", "HOSTILE_SPEC", append_spec),
        ("write-grader", "HOSTILE_GRADER", open_grader),
        ("rename-grader", "HOSTILE_GRADER", rename_over_grader),
        ("write-results", "HOSTILE_RESULTS", write_results),
        ("precreate-results", "HOSTILE_RESULTS", precreate_results),
        ("symlink-results", "HOSTILE_RESULTS", lambda p: symlink_results(p, who)),
    ]


def try_file_attacks(who):
    lines = []
    for attack, var, attempt in file_attacks(who):
        path = os.environ.get(var)
        result = outcome(lambda: attempt(path)) if path else f"not tried ({var} is unset)"
        lines.append(f"hostile {who} {attack}: {result}")
    return lines


def network():
    """The interfaces of /proc/net/dev and the routes of /proc/net/route, as
    `lo,eth0; routes: eth0 0.0.0.0/0,eth0 192.0.2.0/24` (`none` for none)."""
    with open("/proc/net/dev") as f:
        names = [l.split(":")[0].strip() for l in f.readlines()[2:] if ":" in l]
    routes = []
    with open("/proc/net/route") as f:
        # Iface Destination Gateway Flags RefCnt Use Metric Mask ..., in hex
        # of the kernel's byte order.
        for l in f.readlines()[1:]:
            fields = l.split()
            if len(fields) >= 8:
                dest = socket.inet_ntoa(struct.pack("<I", int(fields[1], 16)))
                bits = bin(int(fields[7], 16)).count("1")
                routes.append(f"{fields[0]} {dest}/{bits}")
    return f"{','.join(names) or 'none'}; routes: {','.join(routes) or 'none'}"


def daemon():
    """The process left behind: tries every attack on a file again, every
    100 ms for at most 60 s, with nobody to report to."""
    end = time.monotonic() + 60
    for _ in range(600):
        if time.monotonic() >= end:
            break
        try_file_attacks("daemon")
        time.sleep(0.1)


def leave_process():
    """Double fork and setsid(2): the grandchild has no parent to wait for
    it, no session or process group of ours, and no stdin, stdout or stderr
    (so nothing waits for its pipes to close); it keeps HOSTILE_MARK in its
    environment, as every process started here does."""
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    try:
        os.setsid()
        if os.fork():
            os._exit(0)
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        daemon()
    finally:
        os._exit(0)


def leave_file(who):
    # A file in /tmp, which every user may write, for whoever is graded
    # next as the same uid to find: the grader removes it at the end.
    mark = os.environ.get("HOSTILE_MARK")
    if mark:
        with open(f"/tmp/hostile-{mark}-{who}", "w") as f:
            f.write("left by a submission\n")


def main(who):
    lines = try_file_attacks(who)
    lines.append(f"hostile {who} leave-process: {outcome(leave_process)}")
    lines.append(f"hostile {who} leave-file: {outcome(lambda: leave_file(who))}")
    try:
        lines.append(f"hostile {who} network: {network()}")
    except OSError as e:
        lines.append(f"hostile {who} network: refused: {e.strerror} (os error {e.errno})")
    print("\n".join(lines), flush=True)
    sys.exit(1)
