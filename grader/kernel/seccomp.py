"""The seccomp filter of a jail: system calls a notebook has no use for fail with EPERM.

bubblewrap loads a compiled BPF program from a file descriptor (`--seccomp FD`); libseccomp
(Debian's libseccomp2, which systemd and bubblewrap's own users rely on) compiles it. System calls
of another architecture (32-bit `int 0x80`) kill the process: libseccomp's default for them.
"""

from __future__ import annotations

import atexit
import ctypes
import ctypes.util
import errno
import os
import tempfile
from functools import cache

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7
TIOCSTI = 0x5412
DENIED = (
    # reading or steering another process, and the kernel's own interfaces to that
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    # namespaces, mounts and the root: the jail is made once, by bubblewrap
    "mount", "umount2", "pivot_root", "chroot", "setns", "unshare", "mount_setattr", "move_mount",
    "open_tree", "fsopen", "fsconfig", "fsmount", "fspick",
    # kernel attack surface no notebook needs
    "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key", "request_key", "io_uring_setup",
    "io_uring_enter", "io_uring_register", "fanotify_init", "open_by_handle_at", "name_to_handle_at",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon",
    "swapoff", "acct", "quotactl", "syslog", "lookup_dcookie", "iopl", "ioperm", "vhangup",
)


class _ArgCompare(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


@cache
def filter_path() -> str | None:
    """A file holding the compiled filter, made once per process; None without libseccomp."""
    name = ctypes.util.find_library("seccomp")
    if name is None:
        return None
    lib = ctypes.CDLL(name)
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                           ctypes.POINTER(_ArgCompare)]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    context = lib.seccomp_init(SCMP_ACT_ALLOW)
    try:
        deny = _errno_action(errno.EPERM)
        for syscall in DENIED:
            number = lib.seccomp_syscall_resolve_name(syscall.encode())
            if number >= 0:
                lib.seccomp_rule_add_array(context, deny, number, 0, None)
        # TIOCSTI pushes characters into a terminal's input: a way out of any sandbox with a tty
        tiocsti = _ArgCompare(1, SCMP_CMP_MASKED_EQ, 0xFFFFFFFF, TIOCSTI)
        lib.seccomp_rule_add_array(context, deny, lib.seccomp_syscall_resolve_name(b"ioctl"), 1,
                                   ctypes.byref(tiocsti))
        handle, path = tempfile.mkstemp(prefix=f"lstm-grader-{os.getpid()}.", suffix=".bpf")
        try:
            if lib.seccomp_export_bpf(context, handle) != 0:
                os.unlink(path)
                return None
        finally:
            os.close(handle)
        atexit.register(_remove, path)
        return path
    finally:
        lib.seccomp_release(context)


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
