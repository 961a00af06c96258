"""etl.allocator: an import's freed memory is kept for reuse, and everything is put back after."""

from __future__ import annotations

import ctypes

import pyarrow as pa
import pytest

from etl import allocator


class _Recorder:
    """A C library that records what is asked of it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, int | None]] = []

    def mallopt(self, param: int, value: int) -> int:
        self.calls.append(("mallopt", param, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad, None))
        return 1


def test_arrow_allocates_through_the_system_allocator_inside_and_as_before_after() -> None:
    before = pa.default_memory_pool().backend_name
    with allocator.kept(_Recorder()):
        assert pa.default_memory_pool().backend_name == "system"
        assert pa.array(range(1000)).sum().as_py() == 499500
    assert pa.default_memory_pool().backend_name == before


def test_glibc_keeps_freed_memory_inside_and_gets_its_defaults_back_after() -> None:
    libc = _Recorder()
    with allocator.kept(libc):
        assert libc.calls == [
            ("mallopt", allocator.M_MMAP_MAX, 0),
            ("mallopt", allocator.M_TRIM_THRESHOLD, allocator.KEEP_ALL),
        ]
    assert libc.calls[2:] == [
        ("mallopt", allocator.M_MMAP_MAX, allocator.DEFAULT_MMAP_MAX),
        ("mallopt", allocator.M_TRIM_THRESHOLD, allocator.DEFAULT_TRIM_THRESHOLD),
        ("malloc_trim", 0, None),
    ]


def test_everything_is_put_back_when_the_import_fails() -> None:
    libc, before = _Recorder(), pa.default_memory_pool().backend_name
    with pytest.raises(RuntimeError), allocator.kept(libc):
        raise RuntimeError("a rejected bundle")
    assert pa.default_memory_pool().backend_name == before
    assert libc.calls[-1] == ("malloc_trim", 0, None)


_MALLINFO2 = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO2.split()]


def test_a_big_allocation_comes_from_the_heap_not_a_fresh_mapping_inside() -> None:
    libc = allocator.glibc()
    if libc is None or not hasattr(libc, "mallinfo2"):
        pytest.skip("glibc >= 2.33 only")
    libc.mallinfo2.restype = _MallInfo2
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    size = 64 * 1024**2

    def mapped_while_held() -> int:
        block = libc.malloc(size)
        try:
            return libc.mallinfo2().hblkhd
        finally:
            libc.free(block)

    mapped_before = libc.mallinfo2().hblkhd
    assert mapped_while_held() >= mapped_before + size  # glibc's default: a mapping of its own
    with allocator.kept():
        assert mapped_while_held() < mapped_before + size
    assert mapped_while_held() >= mapped_before + size
