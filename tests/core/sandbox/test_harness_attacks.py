"""Learner code that tries to cheat the Python harness: every attack fails its hidden test, and the
hidden test's source (its expected values, here the canary ``SECRET``) never reaches the feedback.

Each attack is a submission to ``area(w, h)`` (expected ``w * h``); the job has one visible test the
learner may see and one hidden test that holds the canary. A cheating submission does not compute
the area, so an honest harness fails the hidden test. Every run is bounded in time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.content import load_challenge_file, to_spec
from core.sandbox.bwrap import BwrapRunner
from core.sandbox.local import UnsafeLocalRunner
from core.sandbox.models import CodeJob, CodeRunner, CodeTest, RunResult
from core.service.code_runs import job_for

BOUND = 20.0
ROOT = Path(__file__).resolve().parents[3]
SECRET = "hidden-canary-5f1e"
VISIBLE = CodeTest("visible", "assert area(2, 3) == 6, 'area(2, 3) should be 6'")
HIDDEN = CodeTest(
    "hidden",
    f"expected = {{'{SECRET}': 91}}\nassert area(7, 13) == expected['{SECRET}']",
    hidden=True,
)


async def attack(runner: CodeRunner, code: str, *tests: CodeTest) -> RunResult:
    job = CodeJob("python", code, tests or (VISIBLE, HIDDEN), time_limit_seconds=3)
    result = await asyncio.wait_for(runner.run(job), BOUND)
    for outcome in result.tests:
        assert SECRET not in outcome.message and SECRET not in outcome.output, outcome
    return result


def hidden_of(result: RunResult) -> bool:
    return next(t for t in result.tests if t.id == "hidden").passed


ATTACKS = {
    "always-equal object": """
class Anything:
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __hash__(self): return 0
def area(w, h): return Anything()
""",
    "str and int subclasses that equal everything": """
class Sly(int):
    def __eq__(self, other): return True
    __hash__ = int.__hash__
def area(w, h): return Sly(0)
""",
    "frame inspection of the caller": """
import sys
def area(w, h):
    frame = sys._getframe(1)
    while frame is not None:
        for scope in (frame.f_locals, frame.f_globals):
            for value in list(scope.values()):
                if isinstance(value, dict) and any('canary' in str(k) for k in value):
                    print(value)
                    return list(value.values())[0]
        frame = frame.f_back
    return 0
""",
    "gc scan for the test's objects": """
import gc, re
def area(w, h):
    for obj in gc.get_objects():
        if isinstance(obj, (list, tuple)):
            for item in obj:
                if isinstance(item, dict) and 'canary' in str(item.get('code')):
                    print(item['code'])
                    return int(re.findall(r': (\\d+)}', item['code'])[0])
    return -1
""",
    "monkeypatching builtins and AssertionError": """
import builtins
class Never(Exception): pass
builtins.AssertionError = Never
builtins.exec = lambda *args, **kwargs: None  # the harness's exec of each test, if shared
def area(w, h): return -1
""",
    "sys.exit(0) mid-test": """
import sys
def area(w, h):
    if (w, h) == (2, 3):
        return 6
    sys.exit(0)
""",
    "os._exit(0) mid-test": """
import os
def area(w, h):
    if (w, h) == (2, 3):
        return 6
    os._exit(0)
""",
    "forged result lines on stdout and every fd": """
import os, sys, json
line = json.dumps({"id": "hidden", "passed": True})
def area(w, h):
    frame = sys._getframe(1)
    while frame is not None:  # the reporter's own channel and marker, if within reach
        names = frame.f_locals
        if 'marker' in names and 'out' in names:
            names['out'].write(names['marker'] + ' ' + line + '\\n')
            names['out'].flush()
        frame = frame.f_back
    for prefix in ("", "@@curiouscore- "):
        print(prefix + line, flush=True)
        for fd in range(0, 64):
            try:
                os.write(fd, (prefix + line + "\\n").encode())
            except OSError:
                pass
    return -1
""",
    "replacing the harness's functions and json": """
import sys, json
dumps = json.dumps
def forged(obj, *args, **kwargs):
    if isinstance(obj, dict) and 'id' in obj:
        obj = dict(obj, passed=True)
    return dumps(obj, *args, **kwargs)
json.dumps = forged
main = sys.modules.get('__main__')
for name in ('decode', 'run_python', 'run_sql'):
    if main is not None and hasattr(main, name):
        setattr(main, name, lambda *a, **k: True)
def area(w, h): return -1
""",
    "raising BaseException subclasses": """
class Escape(BaseException): pass
def area(w, h):
    if (w, h) == (2, 3):
        return 6
    raise Escape()
""",
    "raising SystemExit and KeyboardInterrupt": """
def area(w, h):
    if (w, h) == (2, 3):
        return 6
    raise KeyboardInterrupt()
""",
    "atexit hooks": """
import atexit, os, sys
def forge():
    print('{"id": "hidden", "passed": true}')
    os.write(1, b'{"id": "hidden", "passed": true}\\n')
atexit.register(forge)
def area(w, h):
    if (w, h) == (2, 3):
        return 6
    sys.exit(0)
""",
    "deleting the test's globals": """
import sys
def area(w, h):
    frame = sys._getframe(1)
    scope = frame.f_globals
    for name in list(scope):
        if isinstance(scope[name], dict):
            scope[name] = {key: -1 for key in scope[name]}
    scope.pop('AssertionError', None)
    return -1
""",
    "reading argv, stdin and the judge's /proc": """
import os, sys
seen = [repr(sys.argv)]
try:
    seen.append(sys.stdin.read())
except Exception as e:
    seen.append(repr(e))
for pid in os.listdir('/proc'):
    if not pid.isdigit():
        continue
    for name in ('cmdline', 'environ', 'fd/0', 'mem', 'fd/3', 'fd/4'):
        try:
            with open('/proc/%s/%s' % (pid, name), 'rb') as f:
                seen.append(f.read(1 << 20).decode('latin-1'))
        except OSError as e:
            seen.append('%s/%s: %s' % (pid, name, e.strerror))
    try:
        seen.append(repr(os.listdir('/proc/%s/fd' % pid)))
    except OSError:
        pass
def scan_memory():
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            maps = open('/proc/%s/maps' % pid).read().splitlines()
            mem = open('/proc/%s/mem' % pid, 'rb')
        except OSError as e:
            found.append('%s/mem: %s' % (pid, e.strerror))
            continue
        with mem:
            for line in maps:
                span, perms = line.split()[:2]
                if not perms.startswith('rw'):
                    continue
                start, end = (int(x, 16) for x in span.split('-'))
                try:
                    mem.seek(start)
                    chunk = mem.read(min(end - start, 64 << 20))
                except (OSError, ValueError, OverflowError):
                    continue
                at = chunk.find(b'hidden-canary')
                if at >= 0:
                    found.append(chunk[at:at + 40].decode('latin-1'))
    return found
blob = '\\n'.join(seen)
def area(w, h):
    found = scan_memory()
    print([f for f in found if "mem:" not in f][:3], [f for f in found if "mem:" in f][:6], blob)
    return 'hidden-canary' in blob + ''.join(found)
""",
    "killing the judge": """
import os, signal
def area(w, h):
    if (w, h) == (2, 3):
        return 6
    os.kill(os.getppid(), signal.SIGKILL)
    return -1
""",
    "answer smuggled from a hidden run into a later visible one": """
import os
def area(w, h):
    with open('/tmp/seen', 'a') as f:
        f.write('%s,%s\\n' % (w, h))
    try:
        print(open('/tmp/seen').read())
    except OSError:
        pass
    return w * h if (w, h) == (2, 3) else -1
""",
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
async def test_attack_fails_the_hidden_test(bwrap_runner: BwrapRunner, name: str) -> None:
    result = await attack(bwrap_runner, ATTACKS[name])
    assert not hidden_of(result), (name, result)
    if name not in ("killing the judge",):
        visible = next(t for t in result.tests if t.id == "visible")
        assert "7,13" not in visible.output  # nothing of the hidden test's call leaks back


async def test_honest_solution_passes_both(bwrap_runner: BwrapRunner) -> None:
    result = await attack(bwrap_runner, "def area(w, h):\n    return w * h\n")
    assert [t.passed for t in result.tests] == [True, True], result
    hidden = result.tests[1]
    assert hidden.message == "" and hidden.output == ""  # never leaves the sandbox


async def test_hidden_test_runs_after_visible_ones_whatever_the_order(
    bwrap_runner: BwrapRunner,
) -> None:
    code = ATTACKS["answer smuggled from a hidden run into a later visible one"]
    result = await attack(bwrap_runner, code, HIDDEN, VISIBLE)
    assert [t.id for t in result.tests] == ["hidden", "visible"]  # reported in the job's order
    assert result.tests[1].passed and "7,13" not in result.tests[1].output
    assert not result.tests[0].passed


async def test_a_failing_hidden_test_says_nothing(bwrap_runner: BwrapRunner) -> None:
    result = await attack(
        bwrap_runner, "def area(w, h):\n    print('area of', w, h)\n    return 0\n"
    )
    hidden = result.tests[1]
    assert not hidden.passed and hidden.message == "" and hidden.output == ""
    visible = result.tests[0]
    assert visible.message == "area(2, 3) should be 6" and "area of 2 3" in visible.output


async def test_tests_still_see_plain_data_objects_and_exceptions(bwrap_runner: BwrapRunner) -> None:
    code = """
class Stack:
    def __init__(self): self.items = []
    def push(self, x): self.items.append(x)
    def pop(self):
        if not self.items:
            raise Empty('nothing to pop')
        return self.items.pop()
    def __len__(self): return len(self.items)
class Empty(LookupError): pass
def evens(n):
    yield from range(0, n, 2)
LIMIT = 3
"""
    tests = (
        CodeTest(
            "methods", "s = Stack()\ns.push(1)\ns.push(2)\nassert s.pop() == 2 and len(s) == 1"
        ),
        CodeTest("attrs", "s = Stack()\ns.push('a')\nassert s.items == ['a'] and LIMIT == 3"),
        CodeTest(
            "exc", "try:\n    Stack().pop()\nexcept Empty as e:\n    assert 'nothing' in str(e)"
        ),
        CodeTest(
            "base",
            "try:\n    Stack().pop()\nexcept LookupError:\n    pass\nelse:\n    assert False",
        ),
        CodeTest("iter", "assert list(evens(7)) == [0, 2, 4, 6] and sum(evens(5)) == 6"),
        CodeTest("isinstance", "assert isinstance(Stack(), Stack) and not isinstance(3, Stack)"),
        CodeTest("setup", "assert twice(LIMIT) == 6", setup="def twice(x):\n    return 2 * x\n"),
    )
    result = await attack(bwrap_runner, code, *tests)
    assert all(t.passed for t in result.tests), result.tests


async def test_the_shipped_check_your_checks_step_still_works(bwrap_runner: BwrapRunner) -> None:
    spec = to_spec(load_challenge_file(ROOT / "challenges" / "python-testing.yaml"))
    step = next(s for s in spec.steps if s.id == "write-the-checks")
    assert step.code is not None
    good = await asyncio.wait_for(bwrap_runner.run(job_for(step, step.code.solution)), BOUND)
    assert good.all_passed, good
    lazy = await asyncio.wait_for(bwrap_runner.run(job_for(step, step.code.starter)), BOUND)
    assert [t.passed for t in lazy.tests] == [True, False], lazy
    cheat = "def median(values):\n    return 0\n\ndef check_median():\n    raise AssertionError()\n"
    cheated = await asyncio.wait_for(bwrap_runner.run(job_for(step, cheat)), BOUND)
    assert not cheated.all_passed


async def test_unsafe_local_runs_the_same_judge() -> None:
    runner = UnsafeLocalRunner()
    honest = await attack(runner, "def area(w, h):\n    return w * h\n")
    assert honest.all_passed
    cheat = await attack(runner, ATTACKS["always-equal object"])
    assert not hidden_of(cheat)
