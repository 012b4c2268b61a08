"""resolve_allowed / read_file: only regular files inside the allowed roots, checked before opening."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from omnivec.errors import AccessDenied, NotFound, PayloadTooLarge
from omnivec.media.files import read_file, resolve_allowed

MAX = 1_000_000


@pytest.fixture
def root(tmp_path: Path) -> Path:
    inside = tmp_path / "root"
    (inside / "sub").mkdir(parents=True)
    (inside / "note.txt").write_text("hello")
    (tmp_path / "secret.txt").write_text("outside")
    return inside


def test_reads_a_file_inside_the_root(root: Path) -> None:
    assert read_file(root / "note.txt", [root], MAX) == b"hello"
    assert resolve_allowed(root / "sub" / ".." / "note.txt", [root]) == (root / "note.txt").resolve()


def test_symlink_that_stays_inside_is_followed(root: Path) -> None:
    (root / "sub" / "link.txt").symlink_to(root / "note.txt")
    assert read_file(root / "sub" / "link.txt", [root], MAX) == b"hello"


def test_relative_path_inside_the_root(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root / "sub")
    assert read_file(Path("../note.txt"), [root], MAX) == b"hello"


def test_path_outside_every_root_is_refused(root: Path) -> None:
    outside = root.parent / "secret.txt"
    with pytest.raises(AccessDenied, match="outside the allowed roots") as info:
        read_file(outside, [root], MAX)
    assert str(outside) in info.value.message
    assert "OMNIVEC_ALLOWED_ROOTS" in info.value.message
    assert "--allow" in info.value.message


def test_dotdot_escape_is_refused(root: Path) -> None:
    with pytest.raises(AccessDenied, match="outside the allowed roots"):
        read_file(root / "sub" / ".." / ".." / "secret.txt", [root], MAX)


def test_symlink_escaping_the_root_is_refused(root: Path) -> None:
    (root / "escape.txt").symlink_to(root.parent / "secret.txt")
    with pytest.raises(AccessDenied, match="outside the allowed roots"):
        read_file(root / "escape.txt", [root], MAX)


def test_directory_symlink_escaping_the_root_is_refused(root: Path) -> None:
    (root / "up").symlink_to(root.parent, target_is_directory=True)
    with pytest.raises(AccessDenied, match="outside the allowed roots"):
        read_file(root / "up" / "secret.txt", [root], MAX)


def test_missing_file_inside_a_root_is_not_found(root: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        read_file(root / "missing.txt", [root], MAX)


def test_missing_file_outside_the_roots_does_not_reveal_existence(root: Path) -> None:
    with pytest.raises(AccessDenied):
        read_file(root.parent / "missing.txt", [root], MAX)


def test_no_roots_means_no_file_access(root: Path) -> None:
    with pytest.raises(AccessDenied, match="no allowed roots are configured"):
        read_file(root / "note.txt", [], MAX)


@pytest.mark.timeout(10)
def test_fifo_is_refused_without_blocking(root: Path) -> None:
    fifo = root / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(AccessDenied, match="FIFO"):
        read_file(fifo, [root], MAX)


def test_device_is_refused() -> None:
    with pytest.raises(AccessDenied, match="character device"):
        read_file(Path("/dev/zero"), [Path("/dev")], MAX)


def test_directory_is_refused(root: Path) -> None:
    with pytest.raises(AccessDenied, match="a directory"):
        read_file(root / "sub", [root], MAX)


def test_symlink_loop_is_refused(root: Path) -> None:
    (root / "a").symlink_to(root / "b")
    (root / "b").symlink_to(root / "a")
    with pytest.raises(AccessDenied, match="cannot resolve"):
        read_file(root / "a", [root], MAX)


def test_file_over_the_size_limit_is_refused_before_reading(root: Path) -> None:
    big = root / "big.bin"
    with big.open("wb") as handle:
        handle.truncate(50_000_000)  # sparse: costs no disk, and is never read
    with pytest.raises(PayloadTooLarge, match=r"50,000,000 bytes; the limit is 1,000,000 bytes"):
        read_file(big, [root], MAX)


def test_several_roots(root: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("x")
    assert read_file(other / "x.txt", [root, other], MAX) == b"x"
