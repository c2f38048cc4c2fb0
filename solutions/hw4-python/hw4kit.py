"""Shared parts of hw4 in Python: the record, the seeded generator, the
key recipe, argument parsing, and a signal-aware wait (for a datagram, a
deadline or a signal) and pause (for a deadline or a signal only).

Standard library only. Written from specs/protocol.md (sections 1 to 6 and
9) and specs/hw4.md.
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
UNWRITTEN = "DDDCCCCBBBBAAAA"
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


# ------------------------------------------------- generator and keys

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


def number(low, high, form=SIGNED):
    """A parser of a number from low to high, for parse_args."""
    def parse(text, what):
        if not re.fullmatch(form, text) or not low <= int(text) <= high:
            raise Usage(f"invalid value '{text}' for {what}: expected a number in {low}..={high}")
        return int(text)
    return parse


def choice(*names):
    """A parser of one of `names`, for parse_args."""
    def parse(text, what):
        if text not in names:
            raise Usage(f"invalid value '{text}' for {what}: expected one of {', '.join(names)}")
        return text
    return parse


def usage_error(problem, usage):
    err(f"error: {problem}\n\n{usage}\n\nFor more information, try '--help'.")
    sys.exit(2)


def parse_args(argv, options, positional, usage):
    """argv -> (dict of options, list of positional numbers), or exit 2
    with a usage message on stderr.

    `options` maps each `--name` to (key, parser); `positional` is
    (what, parser, most): how to read the positional arguments and how many
    may be given (None: any number).
    """
    values, numbers = {}, []
    what, parse_positional, most = positional
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
            if not only_positional and name in options:
                if not eq:
                    if not rest or rest[0].startswith("-"):
                        raise Usage(f"a value is required for '{name}'")
                    val = rest.pop(0)
                key, parse = options[name]
                if key in values:
                    raise Usage(f"the argument '{name}' cannot be used multiple times")
                values[key] = parse(val, f"'{name}'")
            elif arg.startswith("-") and not only_positional:
                raise Usage(f"unexpected argument '{arg}' found")
            elif len(numbers) == most:
                raise Usage(f"unexpected argument '{arg}' found")
            else:
                numbers.append(parse_positional(arg, what))
    except Usage as problem:
        usage_error(problem, usage)
    return values, numbers


SERVER_USAGE = "Usage: server [PORT] [--delay-ms D]"
CLIENT_USAGE = ("Usage: client [PORT]... [--seed S] [--count N] [--concurrency W]"
                " [--policy p2c|random|least] [--timeout-ms MS] [--tries T] [--keys K]")

CLIENT_OPTIONS = {
    "--seed": ("seed", number(0, MASK, UNSIGNED)),
    "--count": ("count", number(0, U32_MAX)),
    "--concurrency": ("concurrency", number(1, U32_MAX)),
    "--policy": ("policy", choice("p2c", "random", "least")),
    "--timeout-ms": ("timeout_ms", number(1, U32_MAX)),
    "--tries": ("tries", number(1, U32_MAX)),
    "--keys": ("keys", number(1, MASK, UNSIGNED)),
}


def client_args(argv):
    """The client's arguments, with the course's defaults; exit 2 on a
    usage error, including p2c with fewer than two ports and a port given
    twice."""
    values, ports = parse_args(argv, CLIENT_OPTIONS, ("'[PORT]...'", number(1, 65535), None),
                               CLIENT_USAGE)
    values["ports"] = ports or [5001, 5002, 5003, 5004]
    values.setdefault("count", 5)
    values.setdefault("concurrency", 1)
    values.setdefault("policy", "p2c")
    values.setdefault("timeout_ms", 500)
    values.setdefault("tries", 10)
    values.setdefault("keys", DATASET_SIZE)
    if values["policy"] == "p2c" and len(values["ports"]) < 2:
        usage_error("--policy p2c needs at least two ports: its two candidates are different servers",
                    CLIENT_USAGE)
    twice = [port for i, port in enumerate(values["ports"]) if port in values["ports"][:i]]
    if twice:
        usage_error(f"port {twice[0]} is given twice: each server has a port of its own", CLIENT_USAGE)
    return values


def server_args(argv):
    """(port, delay in ms) of the server."""
    values, ports = parse_args(argv, {"--delay-ms": ("delay_ms", number(0, U32_MAX))},
                               ("'[PORT]'", number(0, 65535), 1), SERVER_USAGE)
    return (ports[0] if ports else 5001), values.get("delay_ms", 0)


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

    def pause(self, seconds):
        """Waits `seconds` for a signal only (datagrams stay queued in the
        socket): returns "stop" if one came, else "deadline"."""
        deadline = time.monotonic() + seconds
        while not self.stopped:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                return "deadline"
            ready, _, _ = select.select([self._wake_r], [], [], timeout)
            if self.stopped or ready:
                break
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
