"""What a worker's seccomp filter refuses, and why: the tables `hardening` loads.

Default allow (decision 0011): a worker keeps computation, its own memory and threads, what
it already holds and its channel; each call below reaches further.
"""

# NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET: no namespaces via clone either.
CLONE_NEW = (0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000)

# Refused outright with EPERM. A worker keeps computation, its own memory and threads, what it
# already holds and the channel; each of these reaches further.
REFUSED = (
    # Files: nothing is opened after hardening (the zygote imports every module beforehand).
    "open", "openat", "openat2", "creat", "open_by_handle_at", "name_to_handle_at",
    # Changing the file system (world-writable /tmp stays writable to any uid).
    "mkdir", "mkdirat", "mknod", "mknodat", "unlink", "unlinkat", "rmdir", "rename",
    "renameat", "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod",
    "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat", "truncate", "ftruncate",
    "fallocate", "utime", "utimes", "futimesat", "utimensat", "setxattr", "lsetxattr",
    "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "setxattrat", "removexattrat",
    "file_setattr",
    # Network: no new sockets; the channel is connected already.
    "socket", "socketpair", "connect", "bind", "listen", "accept", "accept4",
    # Processes: no programs, no children, nothing of other processes' memory, fds or pages.
    "execve", "execveat", "fork", "vfork", "ptrace", "process_vm_readv", "process_vm_writev",
    "kcmp", "pidfd_open", "pidfd_getfd", "pidfd_send_signal", "process_madvise",
    "process_mrelease", "migrate_pages", "move_pages", "tkill",
    # Namespaces and mounts: would undo the layers above.
    "mount", "umount2", "chroot", "pivot_root", "unshare", "setns", "fsopen", "fsconfig",
    "fsmount", "fspick", "move_mount", "open_tree", "open_tree_attr", "mount_setattr",
    "statmount", "listmount",  # these two would also list the host's mounts
    # Identity and limits are final (matters most if the worker stays root).
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid",
    "setfsgid", "setgroups", "capset", "setrlimit",
    # Around the write filter and seccomp: io_uring ops are invisible to seccomp, AIO writes,
    # splice/tee/vmsplice hand page-cache pages of the shared data file to pipes (Dirty Pipe).
    "io_uring_setup", "io_uring_enter", "io_uring_register", "io_setup", "io_submit",
    "splice", "tee", "vmsplice", "memfd_create", "memfd_secret",
    # Kernel attack surface and host secrets (the session keyring survives fork).
    "bpf", "userfaultfd", "perf_event_open", "keyctl", "add_key", "request_key",
    "fanotify_init", "inotify_init", "inotify_init1", "modify_ldt", "kexec_load",
    "kexec_file_load", "init_module", "finit_module", "delete_module",
    # Administration: needs capabilities the uid drop removes; refused in case it stays root.
    "acct", "reboot", "swapon", "swapoff", "sethostname", "setdomainname", "settimeofday",
    "clock_settime", "clock_adjtime", "adjtimex", "iopl", "ioperm", "syslog", "quotactl",
    "quotactl_fd", "vhangup",
)  # fmt: skip
# Calls that push data through a descriptor: only on the channel (value = index of the fd).
CHANNEL_ONLY = {
    "write": 0, "writev": 0, "pwrite64": 0, "pwritev": 0, "pwritev2": 0, "sendto": 0,
    "sendmsg": 0, "sendmmsg": 0, "sendfile": 0, "copy_file_range": 2,
}  # fmt: skip
# Signals only to this process (argument 0 = pid); raise() and pthread_kill use tgkill.
SELF_ONLY = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
# prctl options that would undo a protection: clearing the parent-death signal, becoming
# dumpable (ptrace, /proc/<pid>/mem), keeping capabilities across setuid, changing securebits,
# rewriting the process's memory map, adopting orphans, naming a tracer, weakening the
# speculation mitigations. Everything else prctl does (thread names, reading settings,
# another seccomp filter, which only restricts) stays allowed: pyarrow names its threads.
REFUSED_PRCTL = {
    "PR_SET_PDEATHSIG": 1, "PR_SET_DUMPABLE": 4, "PR_SET_KEEPCAPS": 8,
    "PR_SET_SECUREBITS": 28, "PR_SET_MM": 35, "PR_SET_CHILD_SUBREAPER": 36,
    "PR_SET_SPECULATION_CTRL": 53, "PR_SET_PTRACER": 0x59616D61,
}  # fmt: skip
# Unknown to libseccomp 2.5.4; numbers from 424 on are the same on every architecture.
LATE = {"statmount": 457, "listmount": 458, "setxattrat": 463, "removexattrat": 466,
         "open_tree_attr": 467, "file_setattr": 469}  # fmt: skip
