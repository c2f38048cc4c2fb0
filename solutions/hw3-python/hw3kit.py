"""Shared parts of hw3 in Python: the record, the seeded generator, the
key and value recipes, the Zipf table, argument parsing, a signal-aware
wait, `ask`, which sends a request until its answer comes, and the LRU
table of the cache.

Standard library only. Written from specs/protocol.md (sections 1 to 6
and 8) and specs/hw3.md; adapted from hw2-python/hw2kit.py.
"""

import bisect
import errno
import math
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


# --------------------------------------- generator, keys, values and Zipf

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

    def next_f64(self):
        """A double in [0, 1) from the top 53 bits of one next_u64."""
        return (self.next_u64() >> 11) * 2.0 ** -53

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


def generate_value(rng):
    return key_from_number(rng.next_u64())


class Zipf:
    """Item r of n with probability proportional to 1 / (r + 1)^s
    (protocol.md, section 3): a table of running totals, summed in order."""

    def __init__(self, n, s):
        assert n >= 1
        self.c, total = [], 0.0
        for r in range(n):
            total = total + 1.0 / math.pow(float(r + 1), s)
            self.c.append(total)

    def sample(self, rng):
        """One item; draws exactly one next_f64."""
        u = rng.next_f64() * self.c[-1]
        return min(bisect.bisect_right(self.c, u), len(self.c) - 1)


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


def parse_args(argv, options, positional, usage):
    """argv -> (dict of options, list of positional numbers), or exit 2
    with a usage message on stderr.

    `options` maps each `--name` to (key, low, high, form), where form is
    UNSIGNED, SIGNED, or a function (text, what) -> value; `positional` is
    (what, low, high, most): the positional arguments' range and how many
    may be given.
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
            if not only_positional and name in options:
                if not eq:
                    if not rest or rest[0].startswith("-"):
                        raise Usage(f"a value is required for '{name}'")
                    val = rest.pop(0)
                key, lo, hi, form = options[name]
                if key in values:
                    raise Usage(f"the argument '{name}' cannot be used multiple times")
                if callable(form):  # a number that is not an integer
                    values[key] = form(val, f"'{name}'")
                else:
                    values[key] = _number(val, f"'{name}'", lo, hi, form)
            elif arg.startswith("-") and not only_positional:
                raise Usage(f"unexpected argument '{arg}' found")
            elif len(numbers) == most:
                raise Usage(f"unexpected argument '{arg}' found")
            else:
                numbers.append(_number(arg, what, low, high))
    except Usage as problem:
        err(f"error: {problem}\n\n{usage}\n\nFor more information, try '--help'.")
        sys.exit(2)
    return values, numbers


# A decimal number as Rust's f64 parser reads it; inf and NaN are refused.
FLOAT = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"


def _exponent(text, what):
    if re.fullmatch(FLOAT, text):
        number = float(text)
        if math.isfinite(number) and number >= 0:
            return number
    raise Usage(f"invalid value '{text}' for {what}: expected a finite number, at least 0")


CACHE_USAGE = "Usage: cache [PORT] [--capacity C]"
SERVER_USAGE = "Usage: server [PORT]"
CLIENT_USAGE = ("Usage: client [CACHE_PORT] [SERVER_PORT] [--seed S] [--count N]"
                " [--timeout-ms MS] [--tries T] [--keys K] [--zipf E] [--writes PCT]")

CACHE_OPTIONS = {
    "--capacity": ("capacity", 1, U32_MAX, SIGNED),
}

CLIENT_OPTIONS = {
    "--seed": ("seed", 0, MASK, UNSIGNED),
    "--count": ("count", 0, U32_MAX, SIGNED),
    "--timeout-ms": ("timeout_ms", 1, U32_MAX, SIGNED),
    "--tries": ("tries", 1, U32_MAX, SIGNED),
    "--keys": ("keys", 1, 1000000, SIGNED),
    "--zipf": ("zipf", None, None, _exponent),
    "--writes": ("writes", 0, 100, SIGNED),
}


def client_args(argv):
    """The client's arguments, with the course's defaults."""
    values, ports = parse_args(argv, CLIENT_OPTIONS,
                               ("'[CACHE_PORT] [SERVER_PORT]'", 1, 65535, 2), CLIENT_USAGE)
    values["cache_port"] = ports[0] if ports else 5001
    values["server_port"] = ports[1] if len(ports) > 1 else 5002
    values.setdefault("count", 5)
    values.setdefault("timeout_ms", 500)
    values.setdefault("tries", 10)
    values.setdefault("keys", DATASET_SIZE)
    values.setdefault("writes", 0)
    return values


def cache_args(argv):
    """(port, capacity) of the cache: 5001 and 16 by default."""
    values, ports = parse_args(argv, CACHE_OPTIONS, ("'[PORT]'", 0, 65535, 1), CACHE_USAGE)
    return (ports[0] if ports else 5001), values.get("capacity", 16)


def server_port(argv):
    """The storage server's port: 5002 by default."""
    _, ports = parse_args(argv, {}, ("'[PORT]'", 0, 65535, 1), SERVER_USAGE)
    return ports[0] if ports else 5002


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


def check_reply(data, addr, peer, kinds, key):
    """(kind, key, value) if the datagram answers a request for `key` sent
    to `peer`; else the reason it does not, as a str (protocol.md, section 6)."""
    if addr != peer:
        return f"datagram from {addr_text(addr)}: the request went to {addr_text(peer)}"
    try:
        record = decode(data)
    except Malformed as reason:
        return f"malformed datagram from {addr_text(addr)}: {reason}"
    if record[0] not in kinds:
        expected = " or ".join(TYPE_NAMES[kind] for kind in kinds)
        return f"{TYPE_NAMES[record[0]]} from the peer: expected {expected}"
    if record[1] != key:
        return f"answer for key {record[1]}: the request is for key {key}"
    return record


def ask(sock, waiter, wire, peer, timeout_ms, tries, kinds, key, who="client"):
    """Sends `wire` to `peer` until a reply that check_reply accepts comes.

    Returns (datagram, record), "stop" or "gave up"; exits 1 if a send fails.
    """
    for attempt in range(1, tries + 1):
        if attempt > 1:
            err(f"{who}: no answer from {addr_text(peer)} within {timeout_ms} ms;"
                f" sending again (try {attempt} of {tries})")
        try:
            sock.sendto(wire, peer)
        except OSError as error:
            err(f"{who}: cannot send to {addr_text(peer)}: {os_reason(error)}")
            sys.exit(1)
        deadline = time.monotonic() + timeout_ms / 1000  # fixed once per send
        while True:
            got = waiter.wait(sock, deadline)
            if got in ("stop", "deadline"):
                break
            data, addr = got
            record = check_reply(data, addr, peer, kinds, key)
            if isinstance(record, tuple):
                return data, record
            err(f"{who}: ignoring {record}")
        if got == "stop":
            return "stop"
    return "gave up"


# ------------------------------------------------------------ the LRU table

class Lru:
    """At most `capacity` keys with their values, ordered by last use.

    A use is a hit (get) or a store (put). Every use takes the next tick of
    a clock; eviction scans for the smallest tick, which is fine at the
    lab's capacities (hw3.md, "LRU with a capacity").
    """

    def __init__(self, capacity):
        assert capacity >= 1
        self.capacity = capacity
        self.clock = 0
        self.entries = {}  # key -> [value, last_used]

    def _tick(self):
        self.clock += 1
        return self.clock

    def get(self, key):
        """The value held for key, made the most recent use; None (and no
        change at all) when key is not held."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        entry[1] = self._tick()
        return entry[0]

    def put(self, key, value):
        """Stores value for key as its most recent use, then drops the least
        recently used keys while more than capacity are held. Returns the
        dropped keys, in the order dropped."""
        self.entries[key] = [value, self._tick()]
        evicted = []
        while len(self.entries) > self.capacity:
            oldest = min(self.entries, key=lambda k: self.entries[k][1])
            del self.entries[oldest]
            evicted.append(oldest)
        return evicted
