"""Running one notebook through papermill in a kernel the caller owns (so it can be kept warm).

Papermill starts and stops a kernel per notebook; the engine registered here runs the notebook in a
kernel manager passed in by the caller and closes only the client it opened, so one kernel can serve
many notebooks. Also: the HTML export kept as a report, and closing the event loop jupyter_core makes
per thread.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from core.authoring.kernels import DEFAULT_KERNEL, ensure_kernel, start_kernel, stop_kernel
from core.authoring.parameters import check_parameters

log = logging.getLogger(__name__)
ENGINE = "curiouscore-kept-kernel"
_engine_lock = threading.Lock()


def execute_notebook(
    notebook: Path,
    output: Path,
    parameters: Mapping[str, object],
    *,
    kernel: str = DEFAULT_KERNEL,
    cwd: Path | None = None,
) -> None:
    """Run one notebook through papermill with ``parameters`` checked first; a failing cell raises
    papermill's ``PapermillExecutionError`` (the executed notebook is saved either way)."""
    check_parameters(notebook, parameters)
    ensure_kernel(kernel)
    failure: list[BaseException] = []

    def work() -> None:
        import papermill
        from jupyter_core.utils import run_sync

        try:
            with tempfile.TemporaryDirectory(prefix="curiouscore-kernel-") as runtime:
                manager = run_sync(start_kernel)(
                    kernel, cwd=cwd or notebook.parent, runtime_dir=Path(runtime)
                )
                try:
                    papermill.execute_notebook(
                        str(notebook),
                        str(output),
                        parameters=dict(parameters),
                        engine_name=papermill_engine(),
                        kernel_name=kernel,
                        km=manager,
                        progress_bar=False,
                    )
                finally:
                    run_sync(stop_kernel)(manager)
        except BaseException as error:  # handed to the caller's thread below
            failure.append(error)
        finally:
            close_thread_loop()

    # A thread of its own, so the event loop jupyter_core makes for it is closed afterwards.
    thread = threading.Thread(target=work, name="author-notebook")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


def close_thread_loop() -> None:
    """Close the event loop jupyter_core made for this worker thread."""
    import asyncio

    from jupyter_core.utils import ensure_event_loop

    ensure_event_loop().close()
    asyncio.set_event_loop(None)


def export_html(notebook: Any, target: Path) -> Path:
    from nbconvert import HTMLExporter

    body, _ = HTMLExporter().from_notebook_node(notebook)  # type: ignore[no-untyped-call]
    target.write_text(body, encoding="utf-8")
    return target


def papermill_engine() -> str:
    """Register (once) a papermill engine that runs in a kernel the caller owns and closes the
    client it opened, so one kernel can serve many notebooks."""
    with _engine_lock:
        from papermill.clientwrap import PapermillNotebookClient
        from papermill.engines import NBClientEngine, papermill_engines
        from papermill.exceptions import PapermillException

        try:
            papermill_engines.get_engine(ENGINE)
            return ENGINE
        except PapermillException:
            pass  # not registered yet

        class KeptKernelEngine(NBClientEngine):  # type: ignore[misc]
            @classmethod
            def execute_managed_notebook(
                cls,
                nb_man: Any,
                kernel_name: str,
                log_output: bool = False,
                stdout_file: Any = None,
                stderr_file: Any = None,
                start_timeout: int = 60,
                execution_timeout: float | None = None,
                **kwargs: Any,
            ) -> Any:
                kwargs.pop("input_path", None)
                client = PapermillNotebookClient(
                    nb_man,
                    timeout=execution_timeout,
                    startup_timeout=start_timeout,
                    kernel_name=kernel_name,
                    log=log,
                    log_output=log_output,
                    stdout_file=stdout_file,
                    stderr_file=stderr_file,
                    **kwargs,
                )
                try:
                    return client.execute()
                finally:
                    if client.kc is not None:
                        client.kc.stop_channels()

        papermill_engines.register(ENGINE, KeptKernelEngine)
        return ENGINE
