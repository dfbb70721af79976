"""The program that runs *inside* the sandbox: the learner's code against the author's tests.

Standard library only, self-contained, Python 3.8+ (Judge0 CE runs 3.8). The runner passes this
file's source to ``python3 -I -S -B -c`` and the job (code, tests, a per-run marker) as JSON on
stdin. Each test's outcome is written as one line ``<marker> {json}`` on the real stdout as soon as
it is known, so a run stopped by its time limit still reports the tests that finished.

Python: the learner's code never shares a process with a test.

* The **judge** (this process, trusted) first forks the **zygote**, *before* reading the job, so
  nothing of the tests is ever in the zygote's memory; then it makes itself non-dumpable (its
  memory, ``/proc/<pid>/fd``, stdin and the result pipe cannot be read or ptraced by the learner's
  processes, same uid or not), reads the job and runs every test's code itself.
* The zygote (stdin ``/dev/null``, its output a pipe the judge reads) receives the learner's code
  and runs it once as a module. For each test the judge sends it three new pipes (over a Unix
  socket) and it forks a **worker** in its own session: a copy of the loaded module that knows no
  test, no marker and no result channel, and whose output is captured and clipped per test.
* The test's names that the learner's code defines are **proxies**: a call, attribute, item,
  iteration or operator on one becomes a request to the worker, and only plain data (None, bool,
  int, float, complex, str, bytes, list, tuple, dict, set, frozenset, of exactly those types)
  comes back by value, decoded by the judge with strict type checks. Anything else stays in the
  worker as an opaque handle. A handle never equals plain data (so an object whose ``__eq__``
  always returns True passes nothing), and what the learner raises becomes a fresh exception of
  the judge's own (a learner-defined exception class is mirrored by name and builtin base).
* The learner's process ending (``sys.exit``, ``os._exit``, a signal), raising a BaseException
  that is not an Exception, exceeding the output cap, or answering with anything malformed fails
  the test even if the test's code swallowed the error. After each test the judge kills the
  worker's process group and empties ``/tmp``; visible tests run before hidden ones, and a hidden
  test's message and output never leave the judge. At the end it kills every other process of
  the sandbox.

SQL: every test builds a fresh in-memory SQLite fixture (the step's ``setup`` plus the test's),
runs the reference query and the learner's single, read-only statement, and compares the result
sets (as multisets unless order matters) in the judge: the learner supplies SQL text, never code.
ATTACH, extensions, writes and pragmas are refused by an authorizer, and a progress handler stops a
query that does too much work.
"""

from __future__ import annotations

import _socket as socket  # the C module: the socket wrapper costs ~40 ms to import
import array
import binascii
import builtins
import contextlib
import json
import operator
import os
import select
import sqlite3
import struct
import sys
import time
import traceback
from collections import Counter
from typing import Any

SIGKILL = 9  # Linux; the signal module would import enum (tens of ms at every run's start-up)
OUTPUT_CLIP = 2000
OUTPUT_CAP = 1024 * 1024  # bytes one test's process may print before it is stopped
MESSAGE_CAP = 4 * 1024 * 1024  # bytes of one reply from the learner's process
MAX_DEPTH = 50
MAX_ROWS = 1000
SQL_STEP_BUDGET = 20_000  # progress-handler calls of 1,000 VM instructions each (~20M instructions)
YOUR_CODE = "<your code>"
SAFE_EXCEPTIONS = {
    name
    for name in dir(builtins)
    if isinstance(getattr(builtins, name), type)
    and issubclass(getattr(builtins, name), Exception)
    and not issubclass(getattr(builtins, name), Warning)
}


def _emit(out: Any, marker: str, record: dict[str, Any]) -> None:
    out.write(marker + " " + json.dumps(record) + "\n")
    out.flush()


def _clip(text: str, limit: int = OUTPUT_CLIP) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… ({len(text) - limit} more characters not shown)"


def _describe(error: BaseException, filename: str) -> str:
    """One learner-facing line: the exception and the line of ``filename`` it came from."""
    if isinstance(error, SyntaxError):
        return f"SyntaxError: {error.msg} (line {error.lineno})"
    line = None
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == filename:
            line = frame.lineno
    text = f"{type(error).__name__}: {error}".rstrip(": ")
    return f"{text} (line {line} of your code)" if line else text


# -- the wire between the judge and the learner's process -----------------------------------------
# Frames are a 4-byte big-endian length and UTF-8 JSON. Plain data is JSON where JSON is exact
# (None, bool, str, small int); everything else is a tagged list ["tag", ...].


def _send(fd: int, message: Any) -> None:
    data = json.dumps(message).encode("utf-8")
    data = struct.pack(">I", len(data)) + data
    while data:
        data = data[os.write(fd, data) :]


class ProtocolError(Exception):
    """The learner's process sent something that is not a well-formed reply."""


def decode(wire: Any, handle: Any, depth: int = 0) -> Any:
    """Plain data of exactly the builtin types, or ``handle(wire)`` for a remote object."""
    if depth > MAX_DEPTH:
        raise ProtocolError("nested too deeply")
    kind = type(wire)
    if wire is None or kind is bool or kind is str:
        return wire
    if kind is int:
        return wire
    if kind is not list or not wire or type(wire[0]) is not str:
        raise ProtocolError("unexpected value")
    tag, rest = wire[0], wire[1:]
    try:
        if tag == "i":
            return int(str(rest[0]))
        if tag == "f":
            return float(str(rest[0]))
        if tag == "c":
            return complex(float(str(rest[0])), float(str(rest[1])))
        if tag == "b":
            return binascii.a2b_base64(str(rest[0]).encode("ascii"))
        items = rest[0] if rest and type(rest[0]) is list else None
        if tag in ("l", "t", "s", "fs") and items is not None:
            values = [decode(item, handle, depth + 1) for item in items]
            return {"l": list, "t": tuple, "s": set, "fs": frozenset}[tag](values)
        if tag == "d" and items is not None:
            pairs = []
            for pair in items:
                if type(pair) is not list or len(pair) != 2:
                    raise ProtocolError("bad dict item")
                pairs.append(
                    (decode(pair[0], handle, depth + 1), decode(pair[1], handle, depth + 1))
                )
            return dict(pairs)
        if tag in ("h", "X"):
            return handle(wire)
    except ProtocolError:
        raise
    except (ValueError, TypeError, IndexError, OverflowError) as error:
        raise ProtocolError(str(error)) from None
    raise ProtocolError("unknown tag")


_TAGS: dict[Any, str] = {list: "l", tuple: "t", set: "s", frozenset: "fs"}


def encode(value: Any, handle: Any, depth: int = 0) -> Any:
    """The wire form of ``value``: plain data by value, anything else through ``handle``."""
    kind = type(value)
    if value is None or kind is bool or kind is str:
        return value
    if kind is int:
        return value if -(2**53) < value < 2**53 else ["i", str(value)]
    if kind is float:
        return ["f", repr(value)]
    if kind is complex:
        return ["c", repr(value.real), repr(value.imag)]
    if kind is bytes:
        return ["b", binascii.b2a_base64(value, newline=False).decode("ascii")]
    if depth < MAX_DEPTH:
        if kind in (list, tuple, set, frozenset):
            tag = _TAGS[kind]
            return [tag, [encode(item, handle, depth + 1) for item in value]]
        if kind is dict:
            return [
                "d",
                [
                    [encode(k, handle, depth + 1), encode(v, handle, depth + 1)]
                    for k, v in value.items()
                ],
            ]
    return handle(value)


# -- the judge's side: proxies for the learner's objects --------------------------------------------


class LearnerAbort(BaseException):
    """The learner's process ended or misbehaved: the current test fails whatever its code does."""


class TimeLimit(LearnerAbort):
    pass


class OutputLimit(LearnerAbort):
    pass


class Child:
    """The judge's end of one learner process (the zygote, or one test's worker)."""

    def __init__(
        self, req_w: int, resp_r: int, out_r: int, pid: int, deadline: float, isolated: bool
    ) -> None:
        self.deadline = deadline
        self.isolated = isolated
        self.broken = ""  # why the test fails regardless of its code
        self.output = bytearray()
        self.output_bytes = 0
        self.mirrors: dict[int, type] = {}
        self.mirror_ids: dict[type, int] = {}
        self.req_w, self.resp_r, self.out_r, self.pid = req_w, resp_r, out_r, pid
        self.buffer = b""
        self.open_fds = [resp_r, out_r]

    # I/O with a deadline; the learner's output is drained while waiting
    def _take_output(self, data: bytes) -> None:
        self.output_bytes += len(data)
        if len(self.output) < OUTPUT_CLIP * 4:
            self.output.extend(data[: OUTPUT_CLIP * 4 - len(self.output)])
        if self.output_bytes > OUTPUT_CAP:
            self.fail("too much output: the run was stopped", OutputLimit)

    def fail(self, reason: str, kind: type = LearnerAbort) -> None:
        if not self.broken:
            self.broken = reason
        self.stop()
        raise kind(reason)

    def _reply(self) -> Any:
        while True:
            if len(self.buffer) >= 4:
                (size,) = struct.unpack(">I", self.buffer[:4])
                if size > MESSAGE_CAP:
                    self.fail("your code sent back too much data")
                if len(self.buffer) >= 4 + size:
                    data, self.buffer = self.buffer[4 : 4 + size], self.buffer[4 + size :]
                    try:
                        return json.loads(data.decode("utf-8"))
                    except ValueError:
                        self.fail("your program sent something unexpected")
            if self.resp_r not in self.open_fds:
                self.fail("your program stopped before the test finished")
            remaining = self.deadline - time.monotonic()
            if remaining <= 0:
                self.fail("time limit exceeded", TimeLimit)
            ready, _, _ = select.select(self.open_fds, [], [], remaining)
            for fd in ready:
                data = os.read(fd, 65536)
                if not data:
                    self.open_fds.remove(fd)
                elif fd == self.out_r:
                    self._take_output(data)
                else:
                    self.buffer += data

    def request(self, op: str, *args: Any) -> Any:
        if self.broken:
            raise LearnerAbort(self.broken)
        with contextlib.suppress(OSError):  # if the process is gone, the reply loop says how
            _send(self.req_w, [op, *args])
        reply = self._reply()
        try:
            if type(reply) is not list or not reply:
                raise ProtocolError("bad reply")
            if reply[0] == "ok" and len(reply) == 2:
                return decode(reply[1], self.handle)
            if reply[0] == "err" and len(reply) == 4:
                self.raise_remote(reply[1], reply[2], reply[3])
            raise ProtocolError("bad reply")
        except ProtocolError:
            self.fail("your program sent something unexpected")

    def raise_remote(self, kind: Any, message: Any, where: Any) -> None:
        message = _clip(str(message), 1000)
        if type(kind) is str and kind in SAFE_EXCEPTIONS:
            error = getattr(builtins, kind)(message)
        elif (
            type(kind) is list
            and kind[:1] == ["X"]
            and len(kind) == 4
            and kind[3] in SAFE_EXCEPTIONS
        ):
            error = self.handle(kind)(message)
        elif type(kind) is str and kind in ("SystemExit", "KeyboardInterrupt", "GeneratorExit"):
            self.fail(f"your code raised {kind}")
            return
        else:
            self.fail(f"your code raised {str(kind)[:60]}, which is not an Exception")
            return
        error.where = str(where)[:200]
        raise error

    def handle(self, wire: list[Any]) -> Any:
        if wire[0] == "X":  # a learner-defined exception class: mirrored by a class of the judge
            ident, name, base = int(wire[1]), str(wire[2]), str(wire[3])
            if ident not in self.mirrors:
                parent = getattr(builtins, base) if base in SAFE_EXCEPTIONS else Exception
                safe = (
                    "".join(ch for ch in name if ch.isalnum() or ch == "_")[:60] or "LearnerError"
                )
                mirror = type(safe, (parent,), {"__module__": YOUR_CODE})
                self.mirrors[ident] = mirror
                self.mirror_ids[mirror] = ident
            return self.mirrors[ident]
        return Remote(self, int(wire[1]), str(wire[2])[:100] if len(wire) > 2 else "object")

    def wire(self, value: Any) -> Any:
        def local(obj: Any) -> Any:
            if type(obj) is Remote and obj._child is self:
                return ["h", obj._id]
            if isinstance(obj, type) and obj in self.mirror_ids:
                return ["h", self.mirror_ids[obj]]
            raise TypeError(
                "only plain data (numbers, text, lists, tuples, dicts, sets) and the learner's own "
                f"objects can be passed to the learner's code, not {type(obj).__name__}"
            )

        return encode(value, local)

    def stop(self) -> None:
        """End this process and its process group (a worker's own session)."""
        if self.pid > 1:
            with contextlib.suppress(OSError):
                os.killpg(self.pid, SIGKILL)
            with contextlib.suppress(OSError):
                os.kill(self.pid, SIGKILL)

    def close(self) -> str:
        """Stop the process, collect the rest of its output, release the pipes; return the output."""
        self.stop()
        # The worker flushes before every reply: what the test printed is in the pipe already, so
        # take what is there without waiting for a killed process to be scheduled and exit.
        while self.out_r in self.open_fds:
            ready, _, _ = select.select([self.out_r], [], [], 0)
            if not ready:
                break
            data = os.read(self.out_r, 65536)
            if not data:
                break
            if self.output_bytes <= OUTPUT_CAP:
                self.output_bytes += len(data)
                if len(self.output) < OUTPUT_CLIP * 4:
                    self.output.extend(data[: OUTPUT_CLIP * 4 - len(self.output)])
        for fd in {self.req_w, self.resp_r, self.out_r}:
            with contextlib.suppress(OSError):
                os.close(fd)
        return _clip(self.output.decode("utf-8", "replace"))

    def drain_output(self) -> None:
        """Forget what the learner's code printed so far (while loading)."""
        while True:
            ready, _, _ = select.select([self.out_r], [], [], 0)
            if not ready:
                return
            data = os.read(self.out_r, 65536)
            if not data:
                self.open_fds = [fd for fd in self.open_fds if fd != self.out_r]
                return
            self._take_output(data)


def _kill_others() -> None:
    """SIGKILL every process of this PID namespace but the judge and init (bubblewrap only)."""
    for _ in range(100):
        try:
            os.kill(-1, SIGKILL)
        except ProcessLookupError:
            break
        except OSError:
            break
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG) == (0, 0):
                break
        except ChildProcessError:
            break


def _forward(name: str) -> Any:
    def method(self: Remote, *args: Any) -> Any:
        return self._child.request(
            "op", name, self._child.wire(self), *[self._child.wire(a) for a in args]
        )

    method.__name__ = name
    return method


def _strict(kind: type, op: str) -> Any:
    def method(self: Remote) -> Any:
        value = self._child.request(op, self._id)
        if type(value) is not kind:
            raise TypeError(f"{op}() of the learner's object did not return {kind.__name__}")
        return value

    return method


class Remote:
    """A proxy for one object living in the learner's process (see the module's docstring)."""

    __slots__ = ("_child", "_id", "_kind")

    def __init__(self, child: Child, ident: int, kind: str) -> None:
        object.__setattr__(self, "_child", child)
        object.__setattr__(self, "_id", ident)
        object.__setattr__(self, "_kind", kind)

    def __getattr__(self, name: str) -> Any:
        return self._child.request("getattr", self._id, name)

    def __setattr__(self, name: str, value: Any) -> None:
        self._child.request("setattr", self._id, name, self._child.wire(value))

    def __delattr__(self, name: str) -> None:
        self._child.request("delattr", self._id, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        wire = self._child.wire
        return self._child.request(
            "call", self._id, [wire(a) for a in args], {k: wire(v) for k, v in kwargs.items()}
        )

    def __iter__(self) -> Any:
        iterator = self._child.request("iter", self._id)
        while True:
            try:
                yield iterator._child.request("next", iterator._id)
            except StopIteration:
                return

    def __next__(self) -> Any:
        return self._child.request("next", self._id)

    def __eq__(self, other: object) -> bool:
        # A learner's object never equals plain data: the check that defeats "always equal" objects.
        if type(other) is not Remote:
            return False
        return (
            self._child.request("op", "eq", self._child.wire(self), self._child.wire(other)) is True
        )

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __instancecheck__(self, value: Any) -> bool:
        return (
            self._child.request("op", "isinstance", self._child.wire(value), self._child.wire(self))
            is True
        )

    def __subclasscheck__(self, value: Any) -> bool:
        return (
            self._child.request("op", "issubclass", self._child.wire(value), self._child.wire(self))
            is True
        )

    __len__ = _strict(int, "len")
    __bool__ = _strict(bool, "bool")
    __str__ = _strict(str, "str")
    __repr__ = _strict(str, "repr")
    __hash__ = _strict(int, "hash")
    __int__ = _strict(int, "int")
    __index__ = _strict(int, "index")
    __float__ = _strict(float, "float")


_BINARY = (
    "add",
    "sub",
    "mul",
    "truediv",
    "floordiv",
    "mod",
    "pow",
    "and",
    "or",
    "xor",
    "lshift",
    "rshift",
    "matmul",
)
for _name in _BINARY:
    setattr(Remote, f"__{_name}__", _forward(_name))
    setattr(Remote, f"__r{_name}__", _forward("r" + _name))
for _name in (
    "lt",
    "le",
    "gt",
    "ge",
    "getitem",
    "setitem",
    "delitem",
    "contains",
    "neg",
    "pos",
    "abs",
    "invert",
):
    setattr(Remote, f"__{_name}__", _forward(_name))


class Zygote:
    """The learner's code, loaded once in a process forked from the judge before it read the job
    (so nothing of the tests is in its memory); each test's worker is forked from it."""

    def __init__(self) -> None:
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        out_r, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the zygote: no stdin, its output to the judge's pipe, nothing else
            try:
                self.sock.close()
                os.close(out_r)
                devnull = os.open(os.devnull, os.O_RDWR)
                os.dup2(devnull, 0)
                os.dup2(out_w, 1)
                os.dup2(out_w, 2)
                for fd in (devnull, out_w):
                    os.close(fd)
                zygote_main(theirs)
            finally:
                os._exit(0)
        theirs.close()
        os.close(out_w)
        self.pid = pid
        self.out_r = out_r

    def link(self, deadline: float, isolated: bool) -> Child:
        fd = self.sock.fileno()
        return Child(fd, fd, self.out_r, self.pid, deadline, isolated)

    def fork(self, link: Child) -> Child:
        """A worker for one test: its own request, reply and output pipes."""
        req_r, req_w = os.pipe()
        resp_r, resp_w = os.pipe()
        out_r, out_w = os.pipe()
        theirs = [req_r, resp_w, out_w]
        try:
            frame = json.dumps(["fork"]).encode("utf-8")
            self.sock.sendmsg(
                [struct.pack(">I", len(frame)) + frame],
                [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", theirs).tobytes())],
            )
        except OSError:
            for fd in (*theirs, req_w, resp_r, out_r):
                os.close(fd)
            link.fail("your program stopped before the test started")
        finally:
            for fd in theirs:
                with contextlib.suppress(OSError):
                    os.close(fd)
        reply = link._reply()
        pid = reply[1] if type(reply) is list and len(reply) == 2 and type(reply[1]) is int else 0
        return Child(req_w, resp_r, out_r, pid, link.deadline, link.isolated)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.kill(self.pid, SIGKILL)
        with contextlib.suppress(OSError):
            os.waitpid(self.pid, os.WNOHANG)  # not waiting: the judge exits next anyway
        self.sock.close()
        with contextlib.suppress(OSError):
            os.close(self.out_r)


def run_python(job: dict[str, Any], out: Any, marker: str, isolated: bool, zygote: Zygote) -> str:
    """Run every test (visible ones first); return the run's status."""
    deadline = time.monotonic() + float(job.get("time_limit_seconds", 2))
    status = "ok"
    link = zygote.link(deadline, isolated)
    load_error = None
    try:
        loaded = link.request("load", job["code"])
        if loaded is not None:
            load_error = (str(loaded), _clip(link.output.decode("utf-8", "replace")))
    except TimeLimit:
        status = "timeout"
    except OutputLimit:
        status = "output_limit"
    except LearnerAbort as abort:
        load_error = (str(abort), _clip(link.output.decode("utf-8", "replace")))
    link.output.clear()
    ordered = sorted(job["tests"], key=lambda test: bool(test.get("hidden")))
    for test in ordered:
        record: dict[str, Any] = {"id": test["id"], "passed": False, "message": "", "output": ""}
        if status != "ok":
            record["message"] = {
                "timeout": "time limit exceeded",
                "output_limit": "too much output: the run was stopped",
            }[status]
        elif load_error is not None:
            record["message"], record["output"] = load_error
        else:
            status = _run_test(zygote, link, test, record, isolated)
        if test.get("hidden"):
            record["message"] = record["output"] = ""
        _emit(out, marker, record)
    return status


def _run_test(
    zygote: Zygote, link: Child, test: dict[str, Any], record: dict[str, Any], isolated: bool
) -> str:
    """Fill ``record`` for one test in a fresh worker; return the run's status."""
    status = "ok"
    child = None
    try:
        link.drain_output()  # what the zygote printed since: not this test's
        child = zygote.fork(link)
        loaded = child.request("load", test.get("setup", ""))
        if type(loaded) is str:  # the test's setup failed in the learner's process
            record["message"] = loaded
        elif type(loaded) is not dict:
            child.fail("your program sent something unexpected")
        else:
            child.drain_output()
            child.output.clear()
            namespace: dict[str, Any] = {"__name__": "__test__", "__builtins__": builtins}
            namespace.update(
                {k: v for k, v in loaded.items() if type(k) is str and not k.startswith("__")}
            )
            try:
                code = compile(test["code"], "<test {}>".format(test["id"]), "exec")
                exec(code, namespace)  # noqa: S102 - the author's test, in the judge
                record["passed"] = True
            except AssertionError as error:
                record["message"] = str(error) or "this check failed: {}".format(
                    test["code"].strip()
                )
            except Exception as error:  # the test's own error, or what the learner's code raised
                where = getattr(error, "where", "")
                text = f"{type(error).__name__}: {error}".rstrip(": ")
                record["message"] = f"{text} ({where})" if where else text
    except TimeLimit:
        status = "timeout"
    except OutputLimit:
        status = "output_limit"
    except LearnerAbort:
        pass
    finally:
        if child is not None:
            record["output"] = child.close() or record["output"]
        if isolated:
            _empty_tmp()
    broken = (child.broken if child is not None else "") or link.broken
    if broken:
        record["passed"] = False
        record["message"] = broken
    return status


def _empty_tmp() -> None:
    import shutil  # only in the sandbox: not on the path of every run's start-up

    for name in os.listdir("/tmp"):  # noqa: S108
        path = os.path.join("/tmp", name)  # noqa: S108
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(path)


# -- the learner's side -----------------------------------------------------------------------------

_COMPARISONS = ("lt", "le", "gt", "ge", "contains", "eq", "isinstance", "issubclass")


def _operation(name: str) -> Any:
    """The function behind a forwarded operator; comparisons always answer a real bool."""
    if name in ("isinstance", "issubclass"):
        test = getattr(builtins, name)
        return lambda value, cls: bool(test(value, cls))
    if name in _COMPARISONS:
        compare = getattr(operator, name)
        return lambda a, b: bool(compare(a, b))
    base = name[1:] if name.startswith("r") and name[1:] in _BINARY else name
    if base not in _BINARY and base not in (
        "getitem",
        "setitem",
        "delitem",
        "neg",
        "pos",
        "abs",
        "invert",
    ):
        raise TypeError("unsupported operation")
    func = getattr(operator, base + "_" if base in ("and", "or") else base)
    return (lambda a, b: func(b, a)) if base != name else func


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


def zygote_main(sock: socket.socket) -> None:
    """Load the learner's code once; fork a worker per test, with the pipes the judge sends."""
    namespace: dict[str, Any] = {"__name__": "__main__", "__builtins__": builtins}
    room = socket.CMSG_SPACE(3 * array.array("i").itemsize)
    while True:
        try:
            message, ancillary, _, _ = sock.recvmsg(1 << 22, room)
        except OSError:
            return
        if len(message) < 4:
            return
        request = json.loads(message[4:].decode("utf-8"))
        fds: list[int] = []
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                received = array.array("i")
                received.frombytes(data[: len(data) - len(data) % received.itemsize])
                fds.extend(received)
        if request[0] == "load":
            try:
                exec(compile(request[1], YOUR_CODE, "exec"), namespace)  # noqa: S102
                reply: Any = ["ok", None]
            except BaseException as error:  # SystemExit included: the learner's code failed
                reply = ["ok", _describe(error, YOUR_CODE)]
            _flush()
            _send(sock.fileno(), reply)
        elif request[0] == "fork" and len(fds) == 3:
            _flush()
            pid = os.fork()
            if pid == 0:
                try:
                    sock.close()
                    os.setsid()
                    os.dup2(fds[2], 1)
                    os.dup2(fds[2], 2)
                    os.close(fds[2])
                    worker_main(fds[0], fds[1], namespace)
                finally:
                    os._exit(0)
            for fd in fds:
                os.close(fd)
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            _send(sock.fileno(), ["ok", pid])
        else:
            return


def worker_main(req_fd: int, resp_fd: int, namespace: dict[str, Any]) -> None:
    """Answer the judge's requests for one test until it stops this process."""
    requests = os.fdopen(req_fd, "rb", buffering=0)
    objects: dict[int, Any] = {}
    ids: dict[int, int] = {}

    def handle(obj: Any) -> Any:
        key = id(obj)
        if key not in ids:
            ids[key] = len(objects) + 1
            objects[ids[key]] = obj
        if (
            isinstance(obj, type)
            and issubclass(obj, BaseException)
            and obj.__module__ != "builtins"
        ):
            base = next(
                (c.__name__ for c in obj.__mro__ if c.__module__ == "builtins"), "Exception"
            )
            return ["X", ids[key], obj.__name__, base]
        return ["h", ids[key], type(obj).__name__]

    def local(wire: Any) -> Any:
        return objects[int(wire[1])]

    def exception_kind(error: BaseException) -> Any:
        kind = type(error)
        return kind.__name__ if kind.__module__ == "builtins" else handle(kind)

    def read_exact(size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = requests.read(size - len(data))
            if not chunk:
                os._exit(0)
            data += chunk
        return data

    ops: dict[str, Any] = {
        "getattr": lambda o, name: getattr(o, name),
        "setattr": lambda o, name, v: setattr(o, name, decode(v, local)),
        "delattr": lambda o, name: delattr(o, name),
        "len": len,
        "bool": bool,
        "str": str,
        "repr": repr,
        "hash": hash,
        "int": int,
        "index": operator.index,
        "float": float,
        "iter": iter,
        "next": next,
    }
    while True:
        (size,) = struct.unpack(">I", read_exact(4))
        message = json.loads(read_exact(size).decode("utf-8"))
        op, args = message[0], message[1:]
        try:
            if op == "load":  # the test's own setup, if any, then the names the test may use
                try:
                    if args[0]:
                        exec(compile(args[0], "<setup>", "exec"), namespace)  # noqa: S102
                except BaseException as error:
                    result: Any = "the test's setup failed: " + _describe(error, "<setup>")
                else:
                    result = {k: v for k, v in namespace.items() if not k.startswith("__")}
            elif op == "call":
                result = objects[args[0]](
                    *[decode(a, local) for a in args[1]],
                    **{k: decode(v, local) for k, v in args[2].items()},
                )
            elif op == "op":
                values = [decode(a, local) for a in args[1:]]
                result = _operation(str(args[0]))(*values)
            else:
                result = ops[op](objects[args[0]], *args[1:]) if op in ops else None
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            reply: Any = ["ok", encode(result, handle)]
        except BaseException as error:  # whatever the learner's code raises goes back described
            for stream in (sys.stdout, sys.stderr):
                with contextlib.suppress(Exception):
                    stream.flush()
            try:
                where = _describe(error, YOUR_CODE)
                where = (
                    where[where.rfind("(line ") + 1 : -1]
                    if where.endswith(" of your code)")
                    else ""
                )
                reply = ["err", exception_kind(error), str(error)[:1000], where]
            except BaseException:
                reply = ["err", "RuntimeError", "an exception that cannot be described", ""]
        _send(resp_fd, reply)


# -- SQL ------------------------------------------------------------------------------------------

_WRITE_ACTIONS = {
    getattr(sqlite3, name)
    for name in dir(sqlite3)
    if name.startswith(("SQLITE_CREATE_", "SQLITE_DROP_"))
    or name
    in (
        "SQLITE_INSERT",
        "SQLITE_UPDATE",
        "SQLITE_DELETE",
        "SQLITE_ALTER_TABLE",
        "SQLITE_ATTACH",
        "SQLITE_DETACH",
        "SQLITE_PRAGMA",
        "SQLITE_TRANSACTION",
        "SQLITE_SAVEPOINT",
        "SQLITE_ANALYZE",
        "SQLITE_REINDEX",
    )
}
_DENIED_FUNCTIONS = {"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"}


def _read_only(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    if action in _WRITE_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _fixture(setup: str) -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(setup)
    return conn


def _query(conn: sqlite3.Connection, sql: str) -> tuple[list[str], list[tuple[Any, ...]], bool]:
    """Run one statement; return its column names, up to MAX_ROWS rows, and whether it had more."""
    cursor = conn.execute(sql)
    columns = [d[0] for d in cursor.description or ()]
    rows = cursor.fetchmany(MAX_ROWS + 1)
    return columns, [tuple(r) for r in rows[:MAX_ROWS]], len(rows) > MAX_ROWS


def _norm(row: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(round(v, 9) if isinstance(v, float) else v for v in row)


def compare_results(
    expected: tuple[list[str], list[tuple[Any, ...]]],
    got: tuple[list[str], list[tuple[Any, ...]]],
    order_matters: bool,
) -> str:
    """Return "" when the result sets match, else what differs (counts, then the first row)."""
    exp_cols, exp_rows = expected
    got_cols, got_rows = got
    if len(exp_cols) != len(got_cols):
        return f"expected {len(exp_cols)} column(s), got {len(got_cols)}"
    if len(exp_rows) != len(got_rows):
        return f"expected {len(exp_rows)} row(s), got {len(got_rows)}"
    exp_n = [_norm(r) for r in exp_rows]
    got_n = [_norm(r) for r in got_rows]
    if order_matters:
        for index, (want, have) in enumerate(zip(exp_n, got_n)):  # noqa: B905 - runs on Python 3.8 in Judge0
            if want != have:
                return f"row {index + 1} differs: expected {want!r}, got {have!r}"
        return ""
    missing = Counter(exp_n) - Counter(got_n)
    if not missing:
        return ""
    extra = Counter(got_n) - Counter(exp_n)
    first = sorted(missing, key=repr)[0]
    surplus = sorted(extra, key=repr)
    got_text = f", got {surplus[0]!r}" if surplus else ""
    return f"first differing row: expected {first!r}{got_text}"


def _preview(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    lines = [" | ".join(columns)] + [" | ".join(repr(v) for v in row) for row in rows[:10]]
    if len(rows) > 10:
        lines.append(f"… {len(rows) - 10} more row(s)")
    return "\n".join(lines)[:OUTPUT_CLIP]


def run_sql(job: dict[str, Any], out: Any, marker: str) -> str:
    for test in sorted(job["tests"], key=lambda t: bool(t.get("hidden"))):
        record = _sql_test(job, test)
        if test.get("hidden"):
            record["message"] = record["output"] = ""
        _emit(out, marker, record)
    return "ok"


def _sql_test(job: dict[str, Any], test: dict[str, Any]) -> dict[str, Any]:
    setup = job.get("setup", "") + "\n" + test.get("setup", "")
    record: dict[str, Any] = {"id": test["id"], "passed": False, "message": "", "output": ""}
    try:
        reference = _query(_fixture(setup), job["solution"])[:2]
    except sqlite3.Error as error:
        record["message"] = f"the reference query failed: {error}"
        return record
    conn = _fixture(setup)
    conn.set_authorizer(_read_only)
    steps = [0]

    def budget(steps: list[int] = steps) -> int:
        steps[0] += 1
        return 1 if steps[0] > SQL_STEP_BUDGET else 0

    conn.set_progress_handler(budget, 1000)
    try:
        columns, rows, more = _query(conn, job["code"])
    except (sqlite3.Error, MemoryError, OverflowError) as error:
        if steps[0] > SQL_STEP_BUDGET:
            record["message"] = "the query did too much work and was stopped"
        elif "not authorized" in str(error) or "prohibited" in str(error):
            record["message"] = "only a single read-only SELECT may run here"
        else:
            record["message"] = f"SQL error: {error}"
        return record
    if more:
        record["message"] = f"the query returned more than {MAX_ROWS} rows"
        return record
    difference = compare_results(reference, (columns, rows), bool(job.get("order_matters")))
    record.update(passed=not difference, message=difference, output=_preview(columns, rows))
    return record


def _non_dumpable() -> None:
    """PR_SET_DUMPABLE 0: the learner's processes cannot ptrace this one or open its /proc files."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)


def main() -> None:
    isolated = "--isolated" in sys.argv[1:]
    zygote = Zygote()  # forked before the job is read: it never holds a test
    _non_dumpable()
    job = json.loads(sys.stdin.read())
    marker = job.pop("marker")
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):  # only ``out`` leads back to the runner (stderr stays: diagnostics)
        os.dup2(devnull, fd)
    try:
        if job["language"] == "sql":
            status = run_sql(job, out, marker)
        else:
            status = run_python(job, out, marker, isolated, zygote)
    finally:
        zygote.close()
        if isolated:
            _kill_others()
    _emit(out, marker, {"done": True, "status": status})


if __name__ == "__main__":
    main()
