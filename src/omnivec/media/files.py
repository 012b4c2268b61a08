"""Reading file references safely: only regular files inside the configured allowed roots.

A path in a request is untrusted. It is resolved (following every symlink and ``..``) before
the root check, so a link or a ``../`` cannot point outside; it must be a regular file, checked
with ``stat`` before anything opens it, so a FIFO cannot block a worker and ``/dev/zero`` cannot
stream forever; and its size is checked before reading. Operators widen access with
``OMNIVEC_ALLOWED_ROOTS`` or the CLI's ``--allow``.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from omnivec.errors import AccessDenied, NotFound, PayloadTooLarge

_HOW_TO_ALLOW = "to allow it, add its folder to OMNIVEC_ALLOWED_ROOTS or pass --allow <folder>"

_KINDS: tuple[tuple[int, str], ...] = (
    (stat.S_IFDIR, "a directory"),
    (stat.S_IFIFO, "a FIFO (named pipe)"),
    (stat.S_IFCHR, "a character device"),
    (stat.S_IFBLK, "a block device"),
    (stat.S_IFSOCK, "a socket"),
    (stat.S_IFLNK, "a symbolic link"),
)


def _kind(mode: int) -> str:
    return next((name for bits, name in _KINDS if stat.S_IFMT(mode) == bits), "not a regular file")


def _inside(path: Path, roots: Sequence[Path]) -> bool:
    # Roots are resolved too, so a root given through a symlink (/tmp on macOS) still matches.
    return any(path.is_relative_to(root.resolve()) for root in roots)


def _check_regular(path: Path, mode: int) -> None:
    if not stat.S_ISREG(mode):
        raise AccessDenied(f"{path} is {_kind(mode)}, not a regular file; only regular files can be read")


def resolve_allowed(path: Path, roots: Sequence[Path]) -> Path:
    """Resolve ``path`` and check it is a regular file inside one of ``roots``.

    Args:
        path: the path as given (relative paths are taken from the working directory).
        roots: folders that file references may read; empty means no file may be read.

    Returns:
        The fully resolved path.

    Raises:
        AccessDenied: no roots are configured, the resolved path is outside every root, or it
            is not a regular file (directory, FIFO, device, socket).
        NotFound: the path does not exist (only reported inside a root, so the error does not
            reveal which files exist elsewhere).
    """
    if not roots:
        raise AccessDenied(
            f"cannot read {path}: reading local files is off because no allowed roots are "
            "configured; set OMNIVEC_ALLOWED_ROOTS=<folder> or pass --allow <folder>"
        )
    try:
        resolved = Path(path).resolve(strict=True)
    except FileNotFoundError as exc:
        if _inside(Path(path).resolve(strict=False), roots):
            raise NotFound(f"file {path} does not exist") from exc
        raise AccessDenied(f"{path} is outside the allowed roots; {_HOW_TO_ALLOW}") from exc
    except (OSError, RuntimeError) as exc:  # symlink loop (RuntimeError before 3.13), EACCES
        raise AccessDenied(f"cannot resolve {path}: {exc}") from exc
    if not _inside(resolved, roots):
        # The resolved target is not named: it may reveal where a symlink points.
        raise AccessDenied(
            f"{path} (after following symlinks and ..) is outside the allowed roots; {_HOW_TO_ALLOW}"
        )
    _check_regular(Path(path), os.stat(resolved).st_mode)
    return resolved


def read_file(path: Path, roots: Sequence[Path], max_bytes: int) -> bytes:
    """Read a file reference after :func:`resolve_allowed`, refusing files over ``max_bytes``.

    Raises:
        AccessDenied: see :func:`resolve_allowed`.
        NotFound: see :func:`resolve_allowed`.
        PayloadTooLarge: the file is larger than ``max_bytes``.
    """
    resolved = resolve_allowed(path, roots)
    # O_NOFOLLOW and O_NONBLOCK close the window between the check and the open: a file swapped
    # for a symlink fails to open, and one swapped for a FIFO opens without blocking and is then
    # refused by the fstat below.
    try:
        fd = os.open(resolved, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError as exc:
        raise NotFound(f"file {path} does not exist") from exc
    except OSError as exc:
        raise AccessDenied(f"cannot open {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        _check_regular(path, info.st_mode)
        _check_size(path, info.st_size, max_bytes)
        data = handle.read(max_bytes + 1)  # a file growing after the fstat still stops here
    _check_size(path, len(data), max_bytes)
    return data


def _check_size(path: Path, size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise PayloadTooLarge(
            f"file {path} is {size:,} bytes; the limit is {max_bytes:,} bytes (OMNIVEC_MAX_REQUEST_BYTES)"
        )
