"""Run ``notebooks/author.ipynb`` through papermill over many challenge files, in parallel.

Parameters are checked and the kernel is found before anything starts. Each worker thread starts
one kernel and runs its share of the files through it (a warm kernel: imports happen once), keeping
the executed notebook and an HTML export of each as the report. A failing notebook's findings come
from the machine-readable summary its last cells display, or else from the error it raised.
"""

from __future__ import annotations

import logging
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.authoring.evaluators import PROVIDERS
from core.authoring.findings import Finding, Severity
from core.authoring.kernels import (
    DEFAULT_KERNEL,
    KernelUnavailable,
    ensure_kernel,
    start_kernel,
    stop_kernel,
)
from core.authoring.notebook_run import close_thread_loop, export_html, papermill_engine
from core.authoring.parameters import ParameterError, check_parameters
from core.authoring.validation import SUMMARY_MIMETYPE

log = logging.getLogger(__name__)


def default_notebook() -> Path:
    """``notebooks/author.ipynb`` of this checkout."""
    return Path(__file__).resolve().parents[2] / "notebooks" / "author.ipynb"


@dataclass(frozen=True, slots=True)
class ChallengeRun:
    """The outcome of one notebook run; ``problems`` name the step of each failure."""

    path: Path
    challenge_id: str
    passed: bool
    problems: tuple[str, ...]
    findings: tuple[Finding, ...]
    notebook: Path | None
    html: Path | None
    seconds: float

    @property
    def warnings(self) -> int:
        return sum(f.severity is Severity.WARNING for f in self.findings)


@dataclass(slots=True)
class RunOptions:
    provider: str = "offline"
    model: str | None = None
    strict: bool = True
    report_dir: Path = Path("reports/authoring")
    notebook: Path = field(default_factory=default_notebook)
    kernel: str = DEFAULT_KERNEL
    workers: int | None = None
    reuse_kernel: bool = True
    cell_timeout: float = 900.0
    html: bool = True
    extra_parameters: Mapping[str, object] = field(default_factory=dict)


def notebook_parameters_for(path: Path, options: RunOptions) -> dict[str, object]:
    return {
        "challenge_path": str(path.resolve()),
        "provider": options.provider,
        "model": options.model,
        "strict": options.strict,
        **options.extra_parameters,
    }


def check_run(paths: Sequence[Path], options: RunOptions) -> None:
    """Everything that can be checked without a kernel: the files, the parameters, the provider
    and the kernel's installation. Raise :class:`ParameterError` or :class:`KernelUnavailable`."""
    problems = [f"challenge file not found: {path}" for path in paths if not path.is_file()]
    if not paths:
        problems.append("no challenge files to validate")
    if options.provider not in PROVIDERS:
        problems.append(
            f"unknown provider {options.provider!r} (choose one of {', '.join(PROVIDERS)})"
        )
    if problems:
        raise ParameterError("author validate", problems)
    for path in paths:
        check_parameters(options.notebook, notebook_parameters_for(path, options))
    ensure_kernel(options.kernel)


def validate_challenges(
    paths: Sequence[Path],
    options: RunOptions,
    *,
    on_start: Callable[[Path], None] | None = None,
    on_done: Callable[[ChallengeRun], None] | None = None,
) -> list[ChallengeRun]:
    """Run the author notebook for every file in ``paths`` (up to one worker per core) and return
    the outcomes in the order of ``paths``. Raises before any kernel starts on bad parameters or a
    missing kernel, and :class:`KernelUnavailable` if a kernel cannot start."""
    check_run(paths, options)
    options.report_dir.mkdir(parents=True, exist_ok=True)
    workers = max(1, min(options.workers or os.cpu_count() or 1, len(paths)))
    todo: queue.Queue[Path] = queue.Queue()
    for path in paths:
        todo.put(path)
    results: dict[Path, ChallengeRun] = {}
    failures: list[KernelUnavailable] = []
    stop = threading.Event()

    def work() -> None:
        try:
            _Worker(options).drain(todo, stop, results, on_start, on_done)
        except KernelUnavailable as error:
            failures.append(error)
            stop.set()

    threads = [threading.Thread(target=work, name=f"author-{i}") for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return [results[path] for path in paths]


class _Worker:
    """One thread: one kernel (kept warm across files unless told otherwise), one HTML exporter."""

    def __init__(self, options: RunOptions) -> None:
        self.options = options
        self._manager: Any = None
        self._runtime = tempfile.TemporaryDirectory(prefix="curiouscore-kernel-")

    def drain(
        self,
        todo: queue.Queue[Path],
        stop: threading.Event,
        results: dict[Path, ChallengeRun],
        on_start: Callable[[Path], None] | None,
        on_done: Callable[[ChallengeRun], None] | None,
    ) -> None:
        from jupyter_core.utils import run_sync

        try:
            while not stop.is_set():
                try:
                    path = todo.get_nowait()
                except queue.Empty:
                    return
                if on_start:
                    on_start(path)
                result = self.run_one(path)
                results[path] = result
                if on_done:
                    on_done(result)
        finally:
            if self._manager is not None:
                run_sync(stop_kernel)(self._manager)
            self._runtime.cleanup()
            close_thread_loop()

    def _kernel(self) -> Any:
        from jupyter_core.utils import run_sync

        if self._manager is not None and not self.options.reuse_kernel:
            run_sync(stop_kernel)(self._manager)
            self._manager = None
        if self._manager is not None and not run_sync(self._manager.is_alive)():
            run_sync(stop_kernel)(self._manager)
            self._manager = None
        if self._manager is None:
            self._manager = run_sync(start_kernel)(
                self.options.kernel,
                cwd=self.options.notebook.parent,
                runtime_dir=Path(self._runtime.name),
            )
        return self._manager

    def run_one(self, path: Path) -> ChallengeRun:
        import nbformat
        import papermill
        from nbclient.exceptions import CellTimeoutError, DeadKernelError

        options = self.options
        started = time.perf_counter()
        output = options.report_dir / f"{path.stem}.ipynb"
        problems: list[str] = []
        manager = self._kernel()
        try:
            papermill.execute_notebook(
                str(options.notebook),
                str(output),
                parameters=notebook_parameters_for(path, options),
                engine_name=papermill_engine(),
                kernel_name=options.kernel,
                km=manager,
                progress_bar=False,
                request_save_on_cell_execute=False,
                execution_timeout=options.cell_timeout,
            )
        except papermill.PapermillExecutionError as error:
            problems = _problems_from_error(str(error.ename), str(error.evalue))
        except DeadKernelError:
            self._restart()
            problems = [
                f"the Jupyter kernel {options.kernel!r} died while running the notebook (out of "
                "memory, or a crash in native code); the report shows the last cell that ran"
            ]
        except CellTimeoutError:
            self._restart()
            problems = [f"a notebook cell ran longer than {options.cell_timeout:g} seconds"]
        except Exception as error:  # papermill itself failed: report it for this file, go on
            log.exception("papermill failed on %s", path)
            self._restart()
            problems = [f"papermill could not run the notebook: {type(error).__name__}: {error}"]
        notebook = nbformat.read(output, as_version=4) if output.exists() else None  # type: ignore[no-untyped-call]
        summary = _summary(notebook) if notebook is not None else None
        findings: tuple[Finding, ...] = ()
        challenge_id = path.stem
        if summary is not None:
            challenge_id = str(summary.get("challenge", path.stem))
            findings = tuple(_finding(f) for f in summary.get("findings", []))
            failures = [_finding(f) for f in summary.get("failures", [])]
            problems = [str(f) for f in failures] or problems
        html = (
            export_html(notebook, output.with_suffix(".html"))
            if notebook and options.html
            else None
        )
        return ChallengeRun(
            path=path,
            challenge_id=challenge_id,
            passed=not problems,
            problems=tuple(problems),
            findings=findings,
            notebook=output if output.exists() else None,
            html=html,
            seconds=time.perf_counter() - started,
        )

    def _restart(self) -> None:
        from jupyter_core.utils import run_sync

        if self._manager is not None:
            run_sync(stop_kernel)(self._manager)
        self._manager = None


def _problems_from_error(ename: str, evalue: str) -> list[str]:
    if ename == "AuthoringFailed":
        lines = [line.strip() for line in evalue.splitlines()[1:]]
        return [line.removeprefix("- ") for line in lines if line] or [evalue]
    if ename == "ModuleNotFoundError" and "'core" in evalue:
        return [
            f"{ename}: {evalue}: the kernel's Python does not have CuriousCore installed; run "
            "pip install -e '.[authoring]' in it, or choose another kernel with --kernel"
        ]
    return [f"the notebook raised {ename}: {evalue}"]


def _summary(notebook: Any) -> dict[str, Any] | None:
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if SUMMARY_MIMETYPE in data:
                summary: dict[str, Any] = data[SUMMARY_MIMETYPE]
                return summary
    return None


def _finding(data: Mapping[str, Any]) -> Finding:
    return Finding(
        check=str(data["check"]),
        severity=Severity(data["severity"]),
        message=str(data["message"]),
        step_id=data.get("step"),
        field=data.get("field"),
        line=data.get("line"),
    )
