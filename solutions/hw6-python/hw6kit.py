"""Shared parts of hw6 in Python: the record, the seeded generator, the
key recipe, argument parsing, a signal-aware wait, and the rules of a
vote: which replies count, and the tally.

Standard library only. Written from specs/protocol.md (sections 1 to 6,
and hw6's) and specs/hw6.md.
"""

import errno
import os
import re
import select
import signal
import socket
import sys
import time

MASK = (1 << 64) - 1  # Python ints never wrap: mask after every + * <<

HEADER_LEN = 17
RECORD_LEN = 33
FIELD_SIZE = 16
TYPE_NAMES = ["READ_REQ", "READ_REP", "WRITE_REQ", "WRITE_REP", "CACHE_HIT", "CACHE_MISS"]
READ_REQ, READ_REP, WRITE_REQ, WRITE_REP, CACHE_HIT, CACHE_MISS = range(6)
# The usual length of each type on the wire (protocol.md, section 1).
WIRE_LEN = [HEADER_LEN, RECORD_LEN, RECORD_LEN, HEADER_LEN, RECORD_LEN, HEADER_LEN]

DATASET_SIZE = 1000
HONEST_VALUE = "DDDDCCCCBBBBAAA"  # four D's, three A's: not hw2's value
FAULTY_VALUE = "SSWUCSE"
GOODBYE = "Ctrl+C pressed. Exit the program after closing the socket"
LOCALHOST = "127.0.0.1"
U32_MAX = (1 << 32) - 1


# ---------------------------------------------------------------- the record

class Malformed(Exception):
    """A datagram that is not a record; str() is the reason."""


def encode(kind, key, value=""):
    """The record in its usual length: 17 or 33 bytes; unused bytes are zero."""
    k, v = key.encode(), value.encode()
    assert len(k) <= 15 and len(v) <= 15 and b"\0" not in k + v
    full = bytes([kind]) + k.ljust(FIELD_SIZE, b"\0") + v.ljust(FIELD_SIZE, b"\0")
    return full[:WIRE_LEN[kind]]


def _text(name, field):
    end = field.find(b"\0")
    if end < 0:
        raise Malformed(f"{name} is not NUL-terminated within {FIELD_SIZE} bytes")
    try:
        return field[:end].decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed(f"{name} is not UTF-8 text") from None


def decode(data):
    """(kind, key, value) from a 17- or 33-byte datagram, or raise Malformed."""
    if len(data) not in (HEADER_LEN, RECORD_LEN):
        raise Malformed(
            f"datagram of {len(data)} bytes: a record is {HEADER_LEN} or {RECORD_LEN} bytes")
    if data[0] >= len(TYPE_NAMES):
        raise Malformed(f"unknown message type {data[0]}")
    key = _text("key", data[1:HEADER_LEN])
    value = _text("value", data[HEADER_LEN:RECORD_LEN]) if len(data) == RECORD_LEN else ""
    return data[0], key, value


def line(kind, key, value):
    """The transcript line of a record."""
    return f"Type: {TYPE_NAMES[kind]} Key: {key} Value: {value}"


# --------------------------------------------------- generator and keys

def _rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


def splitmix64(state):
    """One SplitMix64 step: (new state, output)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


class Rng:
    """xoshiro256** seeded by SplitMix64, with Lemire's below(n)."""

    def __init__(self, seed):
        sm, self.s = seed & MASK, []
        for _ in range(4):
            sm, word = splitmix64(sm)
            self.s.append(word)

    def next_u64(self):
        s = self.s
        result = (_rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 45)
        return result

    def below(self, n):
        assert n > 0
        product = self.next_u64() * n  # a 128-bit product
        low = product & MASK
        if low < n:
            threshold = ((1 << 64) - n) % n  # 2^64 mod n
            while low < threshold:
                product = self.next_u64() * n
                low = product & MASK
        return product >> 64


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def key_from_number(n):
    n &= MASK
    for _ in range(5):
        n = (n * 7 + 7) & MASK
    digits = []
    for _ in range(15):
        n, d = divmod(n, 62)
        digits.append(ALPHABET[d])
    return "".join(reversed(digits))


def generate_key(rng, dataset_size=DATASET_SIZE):
    return key_from_number(rng.below(dataset_size))


def seed_from_clock():
    mix = time.time_ns() & MASK ^ _rotl(os.getpid(), 32)
    return splitmix64(mix)[1]


# ----------------------------------------------------------------- output

def out(text=""):
    """One line on stdout, flushed at once (a pipe is block-buffered)."""
    print(text, flush=True)


def err(text):
    print(text, file=sys.stderr, flush=True)


def addr_text(addr):
    return f"{addr[0]}:{addr[1]}"


def os_reason(error):
    """An OSError as `EADDRINUSE: Address already in use`."""
    name = errno.errorcode.get(error.errno)
    return f"{name}: {error.strerror}" if name else str(error)


# ------------------------------------------------------- the command line

class Usage(Exception):
    pass


# A number as clap reads it: u64 options take an optional `+`; narrower
# ones are read as a signed 64-bit number first, then range-checked.
UNSIGNED, SIGNED = r"\+?[0-9]+", r"[+-]?[0-9]+"


def _number(text, what, low, high, form=SIGNED):
    if not re.fullmatch(form, text) or not low <= int(text) <= high:
        raise Usage(f"invalid value '{text}' for {what}: expected a number in {low}..={high}")
    return int(text)


def usage_error(problem, usage):
    """Exit 2 with a usage message on stderr, as clap does."""
    err(f"error: {problem}\n\n{usage}\n\nFor more information, try '--help'.")
    sys.exit(2)


def parse_args(argv, options, positional, usage, flags=()):
    """argv -> (dict of options, list of positional numbers), or exit 2
    with a usage message on stderr.

    `options` maps each `--name` to (key, low, high, form); `positional` is
    (what, low, high, most): the positional arguments' range and how many
    may be given (None: any number); `flags` lists the `--name`s that take
    no value (their key is the name without dashes, set to True).
    """
    values, numbers = {}, []
    what, low, high, most = positional
    try:
        rest, only_positional = list(argv), False
        while rest:
            arg = rest.pop(0)
            if not only_positional and arg == "--":
                only_positional = True
                continue
            if not only_positional and arg in ("-h", "--help"):
                out(usage)
                sys.exit(0)
            name, eq, val = arg.partition("=")
            if not only_positional and arg in flags:
                key = arg[2:]
                if key in values:
                    raise Usage(f"the argument '{arg}' cannot be used multiple times")
                values[key] = True
            elif not only_positional and name in options:
                if not eq:
                    if not rest or rest[0].startswith("-"):
                        raise Usage(f"a value is required for '{name}'")
                    val = rest.pop(0)
                key, lo, hi, form = options[name]
                if key in values:
                    raise Usage(f"the argument '{name}' cannot be used multiple times")
                values[key] = _number(val, f"'{name}'", lo, hi, form)
            elif arg.startswith("-") and not only_positional:
                raise Usage(f"unexpected argument '{arg}' found")
            elif len(numbers) == most:
                raise Usage(f"unexpected argument '{arg}' found")
            else:
                numbers.append(_number(arg, what, low, high))
    except Usage as problem:
        usage_error(problem, usage)
    return values, numbers


SERVER_USAGE = "Usage: server [PORT] [--faulty | --honest]"
CLIENT_USAGE = ("Usage: client [PORT]... [--seed S] [--count N] [--faults F] [--keys K]"
                " [--timeout-ms MS] [--tries T]")

CLIENT_OPTIONS = {
    "--seed": ("seed", 0, MASK, UNSIGNED),
    "--count": ("count", 0, U32_MAX, SIGNED),
    "--faults": ("faults", 0, U32_MAX, SIGNED),
    "--keys": ("keys", 1, MASK, UNSIGNED),
    "--timeout-ms": ("timeout_ms", 1, U32_MAX, SIGNED),
    "--tries": ("tries", 1, U32_MAX, SIGNED),
}


def client_args(argv):
    """The client's arguments, with the course's defaults; a port given
    twice, or fewer than 2F + 1 servers, is a usage error."""
    values, ports = parse_args(argv, CLIENT_OPTIONS, ("'[PORT]...'", 1, 65535, None), CLIENT_USAGE)
    values["ports"] = ports or [5001, 5002, 5003]
    values.setdefault("count", 5)
    values.setdefault("keys", DATASET_SIZE)
    values.setdefault("timeout_ms", 500)
    values.setdefault("tries", 3)
    n = len(values["ports"])
    values.setdefault("faults", (n - 1) // 2)
    for i, port in enumerate(values["ports"]):
        if port in values["ports"][:i]:
            usage_error(f"port {port} is given twice: each server votes once", CLIENT_USAGE)
    f = values["faults"]
    if n < 2 * f + 1:
        usage_error(f"--faults {f} needs at least {2 * f + 1} servers to outvote the faulty"
                    f" ones, and {n} are given", CLIENT_USAGE)
    return values


def server_args(argv):
    """(port, faulty): --faulty lies, --honest does not, and without either
    the server on 5003 lies, as in the course."""
    values, ports = parse_args(argv, {}, ("'[PORT]'", 0, 65535, 1), SERVER_USAGE,
                               flags=("--faulty", "--honest"))
    if values.get("faulty") and values.get("honest"):
        usage_error("the argument '--faulty' cannot be used with '--honest'", SERVER_USAGE)
    port = ports[0] if ports else 5001
    faulty = values.get("faulty", False) or (not values.get("honest") and port == 5003)
    return port, faulty


# ------------------------------------------------------ sockets and waiting

class Waiter:
    """Waits for a datagram, a deadline, or SIGINT/SIGTERM, in select(2).

    The handlers only set a flag; set_wakeup_fd makes a signal also wake up a
    select() that is already sleeping, so nothing is missed and nothing spins.
    """

    def __init__(self):
        self.stopped = False
        self._wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, signum, frame):
        self.stopped = True

    def wait(self, sock, deadline=None):
        """Returns "stop", "deadline", or (data, addr); `deadline` is monotonic.

        A caught signal wins over a waiting datagram, and a passed deadline
        wins over datagrams still queued, so a flood of strays cannot
        postpone it.
        """
        while not self.stopped:
            timeout = None
            if deadline is not None:
                timeout = deadline - time.monotonic()
                if timeout <= 0:
                    return "deadline"
            ready, _, _ = select.select([sock, self._wake_r], [], [], timeout)
            if self.stopped or self._wake_r in ready:
                break
            if sock in ready:
                try:
                    return sock.recvfrom(65536)
                except (BlockingIOError, InterruptedError, ConnectionRefusedError):
                    continue
        self.stopped = True
        return "stop"


def bind(prog, port):
    """A UDP socket bound to 127.0.0.1:port, or exit 1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((LOCALHOST, port))
    except OSError as error:
        err(f"{prog}: cannot bind {LOCALHOST}:{port}: {os_reason(error)}")
        sys.exit(1)
    return sock


def goodbye(sock):
    out()
    out(GOODBYE)
    sock.close()
    sys.exit(0)


# -------------------------------------------------------------- the vote

def check_vote(data, addr, servers, key):
    """(server number, value) if the datagram is a vote on the request for
    `key` sent to `servers`; else the reason it is not, as a str.

    Whether that server has voted already is the Tally's business."""
    if addr not in servers:
        return f"datagram from {addr_text(addr)}: not one of the servers"
    server = servers.index(addr)
    try:
        kind, reply_key, value = decode(data)
    except Malformed as reason:
        return f"malformed datagram from {addr_text(addr)}: {reason}"
    if kind != READ_REP:
        return f"{TYPE_NAMES[kind]} from server {server}: expected READ_REP"
    if reply_key != key:
        return f"answer for key {reply_key} from server {server}: the request is for key {key}"
    return server, value


class Tally:
    """The votes of one request: one per server, in the order they came."""

    def __init__(self, servers, faults):
        assert servers >= 2 * faults + 1
        self.servers, self.quorum = servers, faults + 1
        self.votes = {}  # server number -> value (dicts keep insertion order)

    def record(self, server, value):
        """Counts the vote; False (and nothing changes) if the server has
        voted already."""
        if server in self.votes:
            return False
        self.votes[server] = value
        return True

    def unanswered(self):
        return self.servers - len(self.votes)

    def decision(self):
        """("decided", value, votes), ("undecidable",), or None."""
        counts = {}
        for value in self.votes.values():
            counts[value] = counts.get(value, 0) + 1
        best, most = None, 0
        for value, votes in counts.items():  # a tie goes to the first voted
            if votes > most:
                best, most = value, votes
        if most >= self.quorum:
            return ("decided", best, most)
        if most + self.unanswered() < self.quorum:
            return ("undecidable",)
        return None
