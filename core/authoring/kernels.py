"""The Jupyter kernel that runs authoring notebooks: find it, start it, check it, stop it.

A missing kernel, one that runs a Python without CuriousCore, or one that dies on start gets a
:class:`KernelUnavailable` naming the kernel and the command that fixes it, before any notebook runs.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import DomainError

if TYPE_CHECKING:
    from jupyter_client.manager import AsyncKernelManager

DEFAULT_KERNEL = "python3"
_PLACEHOLDERS = {"python", f"python{sys.version_info[0]}", "python{}.{}".format(*sys.version_info)}


class KernelUnavailable(DomainError):
    """The notebook's Jupyter kernel is missing, unusable or died; the message says how to fix it."""

    code = "kernel_unavailable"


def install_command(name: str) -> str:
    return f"{sys.executable} -m ipykernel install --sys-prefix --name {name}"


def kernel_argv(name: str = DEFAULT_KERNEL) -> list[str]:
    """The command line of kernel ``name``; raise :class:`KernelUnavailable` if there is none."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
    except ImportError as error:
        raise KernelUnavailable(
            "Jupyter is not installed in this environment; install the authoring extra: "
            "pip install -e '.[authoring]'"
        ) from error
    try:
        spec = KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        raise KernelUnavailable(
            f"the Jupyter kernel {name!r} is not installed for {sys.executable}; install it with: "
            f"{install_command(name)}"
        ) from None
    return list(spec.argv)


def ensure_kernel(name: str = DEFAULT_KERNEL, *, install: bool = False) -> list[str]:
    """Check that kernel ``name`` exists and runs a Python that can import CuriousCore; with
    ``install``, register this environment's kernel under that name when it is missing."""
    try:
        argv = kernel_argv(name)
    except KernelUnavailable:
        if not install:
            raise
        from ipykernel.kernelspec import install as install_kernelspec

        install_kernelspec(kernel_name=name, prefix=sys.prefix)
        argv = kernel_argv(name)
    _check_imports_core(name, argv)
    return argv


def _check_imports_core(name: str, argv: list[str]) -> None:
    executable = argv[0] if argv else ""
    if executable in _PLACEHOLDERS:
        return  # jupyter_client runs these with this very interpreter
    if Path(executable).absolute().parent == Path(sys.executable).absolute().parent:
        return
    try:
        probe = subprocess.run(  # noqa: S603 - the kernel's own interpreter, from its kernelspec
            [executable, "-c", "import core.authoring"], capture_output=True, timeout=60
        )
        usable = probe.returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        usable = False
    if not usable:
        raise KernelUnavailable(
            f"the Jupyter kernel {name!r} runs {executable}, which cannot import CuriousCore; "
            f"install this environment's kernel instead: {install_command(name)} "
            "(or pick another kernel with --kernel)"
        )


async def start_kernel(
    name: str, *, cwd: Path, runtime_dir: Path, startup_seconds: float = 60.0
) -> AsyncKernelManager:
    """Start kernel ``name`` in ``cwd`` (IPC sockets under ``runtime_dir``) and wait until it
    answers; raise :class:`KernelUnavailable` if it does not start."""
    from jupyter_client.manager import AsyncKernelManager

    manager = AsyncKernelManager(kernel_name=name, transport="ipc", ip=str(runtime_dir / "kernel"))
    try:
        await manager.start_kernel(cwd=str(cwd))
        client = manager.client()
        client.start_channels()
        try:
            await client.wait_for_ready(timeout=startup_seconds)
        finally:
            client.stop_channels()
    except (RuntimeError, OSError, TimeoutError) as error:
        await stop_kernel(manager)
        raise KernelUnavailable(
            f"the Jupyter kernel {name!r} did not start ({error}); check that "
            f"`{sys.executable} -m ipykernel --version` works, or reinstall it with: "
            f"{install_command(name)}"
        ) from error
    return manager


async def stop_kernel(manager: AsyncKernelManager) -> None:
    """Shut the kernel down (at once if it is stuck) and remove its connection files."""
    from jupyter_core.utils import ensure_async

    try:
        if manager.has_kernel:
            await manager.shutdown_kernel(now=True)
        else:
            await ensure_async(manager.cleanup_resources())
    except RuntimeError:
        pass  # already dead and cleaned up: nothing left to stop
