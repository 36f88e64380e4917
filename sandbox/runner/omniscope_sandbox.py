"""The sandbox container's own process: PID 1 of a pooled container, one forked child per run.

The host side is ``omniscope_jupyter/sandbox/pool.py`` (containers) and ``runner.py`` (runs).

Life of a container:

1. The host starts it ahead of demand, for one image and resource profile and no plugin yet.
   This process connects to the host's socket ``/job/ctl`` (the host accepts that one
   connection and then closes its listener, so nothing the plugin starts can connect), says
   ``hello``, imports pandas, numpy and pyarrow (for R plugins also R and rpy2, initialised),
   and says ``ready``. It is single-threaded from then on (pyarrow's jemalloc background
   thread is switched off), so forking it is safe.
2. The first job binds the container to one plugin version and one user; a job of another is
   refused and the container ends. The host never sends one (``pool.py`` keys containers so).
3. Each job runs in a fresh ``fork()`` of this pristine process, which never runs plugin code
   itself: the child's memory, environment, module state, working directory and rlimits die
   with it. The child's stdout/stderr are pipes read here (capped), its live events a third
   pipe forwarded to the host, and its result a frame on a socketpair; the result frame (a
   DataFrame as a sealed memfd, see ``transfer.py``) is forwarded to the host at once, before
   the child has even exited.
4. After each run, whatever its end: every other process in the container is killed
   (``kill(-1, SIGKILL)`` until ``/proc`` shows none, orphans reaped), ``/tmp``, ``/out``,
   ``/dev/shm`` and ``/dev/mqueue`` are emptied (iteratively: no depth limit, modes repaired),
   and SysV IPC is checked empty (the container's sysctls disallow it). Only then does the host
   hear ``clean`` and may send the next job; if any of it fails, ``retire`` and exit.

Why PID 1 (Docker's ``--init`` is not used; this process is the init): the kernel delivers to
a PID namespace's init only the signals it has a handler for, and this one handles only
SIGCHLD, so the plugin can neither kill nor stop it (``SIGSTOP`` included). It is also
non-dumpable, so no process of the same uid can ptrace it or read its memory. That is what
lets it enforce the deadline even when the server is gone: the child is killed at the job's
timeout, and when the host's end of the socket closes (the server exited or was killed) it
kills everything and exits, which ends the container (removed by Docker's auto-remove).
Orphans are reaped here as an init must.
"""

from __future__ import annotations

import ctypes
import fcntl
import gc
import json
import os
import selectors
import signal
import socket
import stat
import sys
import time
from pathlib import Path
from typing import Any

# Before pyarrow is imported: jemalloc's background thread would make this process
# multi-threaded, and a fork of a multi-threaded process may deadlock in the child.
os.environ["JE_ARROW_MALLOC_CONF"] = "background_thread:false"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import transfer

CONTROL = Path("/job/ctl")
#: Emptied after every run: every place the sandbox user can write (``/data`` is the
#: file_system permission's volume, kept on purpose).
SCRATCH = ("/tmp", "/out", "/dev/shm", "/dev/mqueue")
DATA = Path("/data")
#: Largest host message (a job: its config, parameters and JSON data).
MAX_JOB_BYTES = 64 << 20
#: Largest child frame: the result's JSON (the host caps it again), or one event.
MAX_RESULT_BYTES = 32 << 20
MAX_EVENT_BYTES = 1 << 20
PR_SET_DUMPABLE = 4
OOM_FILES = ("/sys/fs/cgroup/memory/memory.oom_control", "/sys/fs/cgroup/memory.events")


def log(text: str) -> None:
    """A line on the container's own stderr (not the plugin's): for ``docker logs``."""
    try:
        os.write(2, f"omniscope-sandbox: {text}\n".encode())
    except OSError:
        pass


def harden_self() -> None:
    """Non-dumpable (no ptrace, no /proc/1/mem for the plugin); no signal but SIGCHLD handled."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")
    for number in range(1, signal.NSIG):
        if number in (signal.SIGKILL, signal.SIGSTOP, signal.SIGCHLD):
            continue
        try:
            # Ignoring is not handling: an ignored signal stays undeliverable to PID 1 too.
            ignored = number in (signal.SIGPIPE, signal.SIGXFSZ)
            signal.signal(number, signal.SIG_IGN if ignored else signal.SIG_DFL)
        except (OSError, ValueError):
            pass


def connect() -> socket.socket:
    """The one connection to the host (its listener exists before this container starts)."""
    deadline = time.monotonic() + 10
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(CONTROL))
            return sock
        except OSError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def preload(language: str) -> None:
    """Import what every run needs, so a run only forks; R is initialised for R plugins."""
    import numpy  # noqa: F401
    import omniscope_runner
    import pandas as pd
    import pyarrow as pa
    import pyarrow.ipc

    omniscope_runner.EVENTS.close()  # its placeholder file; each run opens its own
    # Pull in the lazily imported parts of a round trip, single-threaded (no thread pool yet).
    table = pa.Table.from_pandas(pd.DataFrame({"x": [1.0], "s": ["a"]}), nthreads=1)
    table.to_pandas(use_threads=False)
    if language == "r":
        import rpy2.robjects as ro
        import rpy2_frames  # noqa: F401

        # Without its source kept, the runner's own lines never show in a plugin's call stack.
        ro.r["source"](str(omniscope_runner.R_HELPERS), keep_source=False)
        ro.r("suppressPackageStartupMessages({library(methods); library(jsonlite)})")
        # No byte-code JIT: every run is a fresh process, where compiling the plugin's functions
        # on their first call costs more than it saves (a no-op run: 55 ms with it, 22 without).
        # A plugin with hot loops may turn it on itself (compiler::enableJIT(3)).
        ro.r("invisible(compiler::enableJIT(0))")
        warm_up("r")  # loads what setRefClass and jsonlite load lazily, once for all runs
        harden_self()  # R installs signal handlers of its own; none may stay on PID 1


def thread_count() -> int:
    return len(os.listdir("/proc/self/task"))


def oom_kills() -> int:
    """The container's OOM-kill counter (cgroup v1 or v2), or -1 when it cannot be read."""
    for path in OOM_FILES:
        try:
            for line in Path(path).read_text().splitlines():
                if line.startswith("oom_kill "):
                    return int(line.split()[1])
        except (OSError, ValueError):
            continue
    return -1


# -- after a run -------------------------------------------------------------------------------


def other_processes() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) != 1]


def reap() -> list[tuple[int, int, Any]]:
    """Every exited child's ``(pid, status, rusage)`` (orphans included: they are ours)."""
    done = []
    while True:
        try:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
        except ChildProcessError:
            return done
        if pid == 0:
            return done
        done.append((pid, status, usage))


def kill_all() -> bool:
    """Kill every process but this one and reap them; False when some would not go."""
    for _ in range(200):
        if not other_processes():
            return True
        try:
            os.kill(-1, signal.SIGKILL)
        except ProcessLookupError:
            pass
        while True:
            try:
                os.waitpid(-1, 0)
            except ChildProcessError:
                break
        if other_processes():
            time.sleep(0.005)  # a process not ours (docker exec) is still exiting
    return not other_processes()


def sysv_ipc_left() -> list[str]:
    left = []
    for kind in ("shm", "msg", "sem"):
        try:
            lines = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
        except OSError:
            continue
        if lines:
            left.append(kind)
    return left


def volume_usage(seconds: float) -> tuple[int | None, str | None]:
    """Bytes ``/data`` occupies (``du`` semantics: allocated blocks, links not followed), or
    why not. Within ``seconds``, checked before each folder and every few entries: one folder
    may hold millions, and then that, not the clock, is what the answer names."""
    if not os.path.ismount(DATA):
        return None, None
    deadline = time.monotonic() + seconds
    total, count, stack = 0, 0, [str(DATA)]
    try:
        while stack:
            if time.monotonic() > deadline:
                return None, (
                    f"measuring /data took longer than its {seconds:g} s deadline "
                    f"(sandbox_volume_check_seconds): it holds at least {count} files and "
                    f"folders ({total} bytes counted by then)"
                )
            path = stack.pop()
            try:
                entries = os.scandir(path)
            except PermissionError:
                os.chmod(path, 0o700)  # the plugin made it unreadable; it is ours all the same
                entries = os.scandir(path)
            with entries:
                for entry in entries:
                    count += 1
                    if count % 256 == 0 and time.monotonic() > deadline:
                        stack.append(path)  # not finished: the check above says so
                        break
                    info = entry.stat(follow_symlinks=False)
                    total += info.st_blocks * 512
                    if stat.S_ISDIR(info.st_mode):
                        stack.append(entry.path)
    except OSError as exc:
        return None, f"measuring /data failed: {exc}"
    return total, None


def clean_up(volume_seconds: float) -> dict[str, Any]:
    """Leave nothing of the run behind; the message for the host (``clean`` or ``retire``)."""
    begin = time.monotonic()
    if not kill_all():
        return {"type": "retire", "reason": "processes of the run would not die"}
    killed = time.monotonic()
    deadline = killed + 10
    for top in SCRATCH:
        if os.path.isdir(top):
            try:
                transfer.empty_tree(top, deadline)
            except OSError as exc:
                return {"type": "retire", "reason": f"could not empty {top}: {exc}"}
    left = sysv_ipc_left()
    if left:
        return {"type": "retire", "reason": f"SysV IPC objects left: {', '.join(left)}"}
    wiped = time.monotonic()
    used, problem = volume_usage(volume_seconds)
    took = {"kill": round(killed - begin, 4), "wipe": round(wiped - killed, 4)}
    return {"type": "clean", "volume_bytes": used, "volume_error": problem, "seconds": took}


# -- one run -------------------------------------------------------------------------------


def memfd_writer(box: list[int]) -> Any:
    """A frame sink for ``omniscope_runner.encode_result``: the frame into a sealed memfd."""

    def write(frame: Any) -> None:
        fd = os.memfd_create("data.arrow", os.MFD_ALLOW_SEALING | os.MFD_CLOEXEC)
        box.append(fd)
        transfer.write_ipc(frame, f"/proc/self/fd/{fd}")
        seals = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)

    return write


def inline_writer(box: list[bytes]) -> Any:
    """A frame sink for runtimes that cannot pass descriptors (gVisor): the bytes inline."""
    return lambda frame: box.append(transfer.frame_to_ipc(frame))


def child_main(
    conn: socket.socket,
    pipes: dict[str, int],
    keep: set[int],
    language: str,
    plugin: dict[str, Any] | None = None,
) -> None:
    """A forked child: get ready, wait for the job, run it, send the result, exit.

    Never returns. It is forked after the previous run's clean-up and before the next job
    arrives, so the fork and this set-up are off the run's path; so is loading ``plugin``
    (the entry point and language of the container's plugin, once its first job named it).
    """
    code = 70
    try:
        for fd in (int(p) for p in os.listdir("/proc/self/fd")):
            if fd > 2 and fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(pipes["stdout"], 1)
        os.dup2(pipes["stderr"], 2)
        for fd in {devnull, pipes["stdout"], pipes["stderr"]}:
            if fd > 2:
                os.close(fd)
        signal.set_wakeup_fd(-1)
        for number in (signal.SIGCHLD, signal.SIGTERM, signal.SIGHUP):
            signal.signal(number, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        try:
            Path("/proc/self/oom_score_adj").write_text("1000")  # the OOM killer takes the run
        except OSError:
            pass
        import numpy

        numpy.random.seed()  # numpy's global generator would repeat the zygote's state
        os.chdir("/tmp")
        import omniscope_runner

        warm_up(language)
        if language == "r":
            import rpy2.robjects as ro

            ro.r("invisible(tempdir(check = TRUE))")  # /tmp was emptied since R made it
        if plugin is not None:
            omniscope_runner.preload_plugin(plugin)
        job, _ = transfer.recv_json(conn, MAX_JOB_BYTES)
        frames: list[Any] = []
        writer = memfd_writer(frames) if job.get("fd_passing", True) else inline_writer(frames)
        events = Path(f"/proc/self/fd/{pipes['events']}")
        payload = omniscope_runner.run_job(job, events_path=events, write_frame=writer)
        body = json.dumps(payload, allow_nan=False, default=str).encode()
        if frames and isinstance(frames[0], bytes):
            transfer.send_frame(conn, b"D" + frames[0])  # before the result it belongs to
            frames = []
        transfer.send_frame(conn, b"R" + body, frames)
        code = 0
    except transfer.ChannelClosed:
        code = 0  # retired before it got a job
    except BaseException as exc:  # noqa: BLE001 (never return into the zygote's loop)
        try:
            os.write(2, f"omniscope runner failed: {type(exc).__name__}: {exc}\n".encode())
        except OSError:
            pass
    finally:
        os._exit(code)


#: The runner's own R plugin that :func:`warm_up` runs (the image's, read-only).
WARM_UP_R = Path(__file__).with_name("warm_up.R")


def warm_up(language: str) -> None:
    """Go once through what every run does, before its job arrives.

    A fork shares the zygote's memory copy-on-write: the first write to each page (Python
    writes reference counts on every object it touches) copies it, which costs a run several
    milliseconds. Touching those paths here, while the child waits, moves the copying off the
    run's path. Only the runner's own code runs here.
    """
    import pandas as pd

    frame = pd.DataFrame({"x": [1.0], "s": ["a"]}, index=pd.Index([0], name="i"))
    transfer.ipc_to_frame(transfer.frame_to_ipc(frame))
    transfer.to_jsonable({"data": None, "metadata": {"n": 1}, "logs": ["x"]})
    json.loads(json.dumps({"status": "succeeded", "result": {"kind": "dict"}}))
    compile("class Plugin:\n    def execute(self, data):\n        return data\n", "warm", "exec")
    if language == "r":
        import rpy2.robjects as ro
        import rpy2_frames

        # What run_r does, in a throwaway environment of R's (the plugin never sees it).
        out = ro.globalenv[".omniscope_guarded"](
            ro.globalenv[".omniscope_run"], str(WARM_UP_R), "warm", "{}",
            json.dumps({"parameters": {}}), rpy2_frames.frame_to_r(frame.reset_index()), False,
        )  # fmt: skip
        rpy2_frames.frame_from_r(out.rx2("frame"))
        ro.r("invisible(gc())")  # R's collector writes to every live object: copy them now


class Child:
    """A forked child waiting for its job: its pid, its socket and the read ends of its pipes."""

    def __init__(self, language: str, plugin: dict[str, Any] | None = None) -> None:
        self.conn, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pipes: dict[str, int] = {}
        self.reads: dict[str, int] = {}
        for name in ("stdout", "stderr", "events"):
            self.reads[name], pipes[name] = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        self.pid = os.fork()
        if self.pid == 0:
            child_main(child_end, pipes, {child_end.fileno(), *pipes.values()}, language, plugin)
        child_end.close()
        for fd in pipes.values():
            os.close(fd)
        #: Read now, while the child waits: a cgroup file read is not on the run's path.
        self.oom_before = oom_kills()

    def close(self) -> None:
        self.conn.close()
        for fd in self.reads.values():
            os.close(fd)


class Capture:
    """The first ``cap`` bytes of a stream; the rest is read and dropped."""

    def __init__(self, cap: int) -> None:
        self.cap, self.data, self.cut = cap, bytearray(), False

    def add(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]
        if len(chunk) > room:
            self.cut = True

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


class Run:
    """One job: fork, watch (result, output, events, deadline, host), report."""

    def __init__(
        self, host: socket.socket, message: dict[str, Any], wakeup: int, child: Child
    ) -> None:
        self.host, self.job, self.wakeup, self.child = host, message["job"], wakeup, child
        self.deadline = time.monotonic() + float(message.get("timeout", 60))
        cap = int(message.get("log_cap", 64 * 1024))
        self.output = {"stdout": Capture(cap), "stderr": Capture(cap)}
        self.events_left = int(message.get("events_cap", 2 << 20))
        self.pid = 0
        self.status: int | None = None
        self.usage: Any = None
        self.host_gone = False
        self.result: tuple[bytes, list[int]] | None = None
        self.data: bytes | None = None

    def go(self) -> None:
        """Hand the job to the waiting child and watch it until its result (or its end)."""
        child = self.child
        oom_before = child.oom_before
        self.pid = child.pid
        frames = transfer.FrameReader(child.conn, MAX_RESULT_BYTES)
        try:
            try:
                transfer.send_json(child.conn, self.job)
            except OSError as exc:
                end: dict[str, Any] | None = {"status": "failed", "error": f"the run's process died: {exc}"}
            else:
                end = self.watch(frames, child.reads, oom_before)
            self.drain_pipes(child.reads)
            self.report(end)
        finally:
            frames.close()
            if self.result is not None:
                transfer.close_fds(self.result[1])

    def watch(self, frames: transfer.FrameReader, reads: dict[str, int], oom_before: int) -> dict[str, Any] | None:
        """None once the result is in; else how the run ended (timeout, cancel, crash, oom)."""
        frames.sock.setblocking(False)
        selector = selectors.DefaultSelector()
        selector.register(self.host, selectors.EVENT_READ, "host")
        selector.register(frames.sock, selectors.EVENT_READ, "result")
        selector.register(self.wakeup, selectors.EVENT_READ, "wakeup")
        for name, fd in reads.items():
            os.set_blocking(fd, False)
            selector.register(fd, selectors.EVENT_READ, name)
        try:
            while True:
                remaining = self.deadline - time.monotonic()
                if remaining <= 0:
                    return {"status": "timeout"}
                for key, _ in selector.select(remaining):
                    if key.data == "host":
                        return self.from_host()
                    if key.data == "wakeup":
                        drain(self.wakeup)
                        self.collect(reap())
                    elif key.data == "result":
                        self.take(frames)
                        if frames.closed:
                            selector.unregister(frames.sock)
                    elif (chunk := read_some(key.fd)) is None:
                        selector.unregister(key.fd)
                    else:
                        self.keep(key.data, chunk)
                if self.result is not None:
                    return None
                if self.status is not None:  # exited: what it sent before is all there is
                    self.take(frames)
                    return None if self.result is not None else self.exited(oom_before)
        finally:
            selector.close()

    def take(self, frames: transfer.FrameReader) -> None:
        """Read the child's frames: ``D`` (an inline frame's bytes) then ``R`` (the result)."""
        if frames.closed:
            return
        try:
            frames.feed()
        except transfer.TransferError:
            frames.closed = True
            return
        for body, fds in frames.frames():
            if body[:1] == b"R" and self.result is None:
                self.result = (body[1:], fds)
                return
            transfer.close_fds(fds)
            if body[:1] == b"D" and self.data is None:
                self.data = body[1:]

    def keep(self, name: str, chunk: bytes) -> None:
        if name != "events":
            self.output[name].add(chunk)
        elif self.events_left > 0:
            chunk = chunk[: self.events_left]
            self.events_left -= len(chunk)
            text = chunk.decode("utf-8", "replace")
            transfer.send_json(self.host, {"type": "events", "text": text})

    def drain_pipes(self, reads: dict[str, int]) -> None:
        """What the child wrote before its result (the pipes may stay open: not awaited)."""
        for name, fd in reads.items():
            while chunk := read_some(fd):
                self.keep(name, chunk)

    def report(self, end: dict[str, Any] | None) -> None:
        output = {name: {"text": c.text(), "cut": c.cut} for name, c in self.output.items()}
        if end is not None or self.result is None:
            transfer.send_json(self.host, {"type": "end", **(end or {}), "output": output})
            return
        body, fds = self.result
        inline = self.data is not None
        transfer.send_json(self.host, {"type": "result", "output": output, "inline": inline})
        transfer.send_frame(self.host, body, fds)
        if self.data is not None:
            transfer.send_frame(self.host, self.data)

    def from_host(self) -> dict[str, Any]:
        try:
            message, fds = transfer.recv_json(self.host, MAX_JOB_BYTES)
        except (transfer.ChannelClosed, transfer.TransferError, OSError):
            self.host_gone = True
            return {"status": "cancelled", "error": "the host went away"}
        transfer.close_fds(fds)
        if message.get("type") == "cancel":
            return {"status": "cancelled"}
        return {"status": "failed", "error": f"unexpected host message {message.get('type')!r}"}

    def collect(self, done: list[tuple[int, int, Any]]) -> None:
        for pid, status, usage in done:
            if pid == self.pid:
                self.status, self.usage = status, usage

    def exited(self, oom_before: int) -> dict[str, Any]:
        """How the child ended without sending a result."""
        status = self.status or 0
        peak = self.usage.ru_maxrss * 1024 if self.usage is not None else None
        if os.WIFSIGNALED(status):
            signum = os.WTERMSIG(status)
            if signum == signal.SIGKILL and oom_before >= 0 and oom_kills() > oom_before:
                return {"status": "oom", "peak_memory_bytes": peak}
            how = f"was killed by signal {signum}"
        else:
            how = f"exited (code {os.WEXITSTATUS(status)})"
        error = f"the runner {how} without a result; see stderr"
        return {"status": "failed", "error": error, "peak_memory_bytes": peak}


def drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except (BlockingIOError, InterruptedError):
        pass


def read_some(fd: int) -> bytes | None:
    """What a pipe has now; None at its end, b"" when nothing is there yet."""
    try:
        chunk = os.read(fd, 65536)
    except (BlockingIOError, InterruptedError):
        return b""
    return chunk if chunk else None


def serve(host: socket.socket, language: str) -> int:
    """Jobs until the host goes away (or a job of another plugin version or user arrives)."""
    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_read, False)
    os.set_blocking(wakeup_write, False)
    signal.set_wakeup_fd(wakeup_write)
    signal.signal(signal.SIGCHLD, lambda _n, _f: None)  # orphans are reaped: we are init
    binding: tuple[Any, ...] | None = None
    #: The bound plugin's entry point, loaded by each next run's process before its job.
    plugin: dict[str, Any] | None = None
    child = Child(language)
    while True:
        try:
            message, fds = transfer.recv_json(host, MAX_JOB_BYTES)
        except (transfer.ChannelClosed, OSError):
            kill_all()
            return 0
        transfer.close_fds(fds)
        if message.get("type") == "cancel":
            continue  # the run it meant has ended already
        if message.get("type") != "job":
            log(f"unexpected message {message.get('type')!r}")
            return 1
        job = message["job"]
        key = (job.get("plugin_id"), job.get("version"), message.get("user"))
        if binding is None:
            binding = key
            plugin = {"language": job.get("language"), "entry_point": job.get("entry_point")}
        elif key != binding:
            transfer.send_json(host, {"type": "retire", "reason": "a job of another plugin or user"})
            kill_all()
            return 1
        run = Run(host, message, wakeup_read, child)
        try:
            run.go()
        except OSError:  # the host's end broke while we answered
            run.host_gone = True
        child.close()
        report = clean_up(float(message.get("volume_seconds", 10)))
        reap()
        if run.host_gone:
            return 0
        try:
            transfer.send_json(host, report)
        except OSError:
            return 0
        if report["type"] == "retire":
            kill_all()
            return 1
        child = Child(language, plugin)  # after "clean": forked and loaded before the next job


def main() -> int:
    language = sys.argv[1] if len(sys.argv) > 1 else "python"
    harden_self()
    host = connect()
    started = time.monotonic()
    transfer.send_json(host, {"type": "hello", "pid": os.getpid()})
    try:
        preload(language)
    except Exception as exc:  # noqa: BLE001 (any failure: the host hears why, then we end)
        transfer.send_json(host, {"type": "retire", "reason": f"preload failed: {exc}"})
        return 1
    gc.freeze()  # children's collections leave the zygote's pages shared (no copy-on-write)
    threads = thread_count()
    transfer.send_json(
        host,
        {"type": "ready", "language": language, "threads": threads,
         "preload_seconds": round(time.monotonic() - started, 3)},
    )
    if threads != 1:
        log(f"{threads} threads after preload; forking anyway")
    return serve(host, language)


if __name__ == "__main__":
    sys.exit(main())
