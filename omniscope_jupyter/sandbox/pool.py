"""Sandbox containers started ahead of demand, bound to one plugin version and user, reused.

Design (the container side is ``sandbox/runner/omniscope_sandbox.py``; README "The sandbox"):
a pooled container runs the runner as its PID 1 with pandas, numpy and pyarrow already imported
(R and rpy2 initialised for R), and forks one fresh child per run. Containers are kept:

* **warm**, per :class:`Profile` (image, language, network, ``/data`` volume): started by the
  maintenance thread up to ``pool_size`` each, connected, ready, bound to nobody yet (not for
  a profile with a volume: that is one plugin's, and its containers start on demand);
* **bound**, per profile and :class:`Binding` (plugin id, version, user): the first run takes a
  warm one (or starts one cold when none is left) and copies the plugin's files into its
  folder; later runs of the same plugin version by the same user reuse it. A container never
  serves another plugin version or another user, and the runner refuses to (it remembers its
  first job's). Between two runs the runner kills every other process and empties every
  writable place (see its docstring); the host sends the next job only after its ``clean``.
  Each next run's process loads the bound plugin while it waits for its job (R's
  ``setRefClass`` alone costs milliseconds): it is the run's own process and code.

Why a zygote rather than one one-shot container per run: on this 2-core machine starting a
container and importing pandas costs about 0.4 s of CPU, so one-shot containers cap sustained
load at a few runs a second however many are pre-started; a fork costs milliseconds. The price
is the clean-up between runs, which the runner does and the tests prove (a file, an env var, a
module global, a daemonised grandchild, SysV IPC planted by one run are not seen by the next).
A run that ends abnormally (timeout, OOM, cancel, crash, protocol breach) retires its container.

Every container is labelled like any run container (``container.py``), so the reaper removes
those of dead processes; each also exits by itself when its process's socket closes, and is
removed by Docker (``auto_remove``). Folders (``<work_dir>/<random token>``, mounted at
``/job``) carry the owning process's identity and are swept at start and periodically.

Job handover and result notification go over one unix socket per container (``/job/ctl``):
no polling anywhere on a run's path.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import docker.errors
import requests

from ..errors import SandboxUnavailable
from . import container as ctr
from .processes import is_alive, process_identity
from .settings import SandboxSettings
from .transfer import (
    ChannelClosed,
    TransferError,
    close_fds,
    empty_tree,
    recv_frame,
    recv_json,
    send_json,
)

log = logging.getLogger(__name__)

#: Beside the run folders (never inside: a plugin sees its folder), one file per folder
#: naming the process that owns it (``processes.process_identity``).
OWNERS = ".owners"
#: Seconds a container may take from start to ``ready`` (R initialises in about one).
START_SECONDS = 60.0
#: Seconds a container may take to report ``clean`` after a run.
CLEAN_SECONDS = 30.0
#: A container serves at most this many runs, then retires (bounds any slow drift).
MAX_RUNS_PER_CONTAINER = 500
#: A warm pool of a profile no run used for this long is let go (the default ones are kept).
PROFILE_IDLE_SECONDS = 600.0
#: Largest control message from a container (not the result's data: that is a memfd).
MAX_MESSAGE_BYTES = 1 << 20
#: The pools of this process that are not shut down (by id): a container of another one of
#: this process's pools is left alone by the reaper only while that pool lives.
_LIVE_POOLS: set[str] = set()


@dataclass(frozen=True)
class Profile:
    """What a container's options depend on: which runs it can serve at all."""

    image: str
    language: str
    network: bool = False
    #: The ``file_system`` volume's name (one per plugin and store), or None.
    volume: str | None = None
    #: The plugin the volume belongs to (labels only).
    plugin_id: str | None = None


@dataclass(frozen=True)
class Binding:
    """Whose runs a bound container serves: one plugin version of one user."""

    plugin_id: str
    version: str
    user: str
    plugin_dir: Path = field(compare=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.plugin_id, self.version, self.user)


@dataclass
class Reply:
    """What a container answered to a job: ``result`` (payload + frame) or ``end`` (no result)."""

    kind: str
    header: dict[str, Any]
    payload: bytes | None = None
    frame_fd: int | None = None
    inline: bytes | None = None

    def close(self) -> None:
        if self.frame_fd is not None:
            close_fds([self.frame_fd])
            self.frame_fd = None


class SlotBroken(Exception):
    """The container's channel failed (closed, timed out, or broke the protocol)."""


class SlotUnused(SlotBroken):
    """The container was gone before it got the job: the run may go to another one."""


def make_private_dir(path: Path) -> None:
    """Create ``path`` (0700) or accept it only when it is ours, a real folder and private.

    The default lies under the system temporary folder, where another user could have made it
    first to read the runs' data.
    """
    try:
        path.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise SandboxUnavailable(
            f"the sandbox run folder {path} is not a private folder of this user; remove it "
            "or set c.OmniscopeApp.sandbox_run_dir"
        )


def remove_tree(path: Path) -> None:
    """Remove a folder of any depth (``transfer.empty_tree``); failures are logged, not raised:
    removal of a run folder must never fail the run or the server."""
    try:
        empty_tree(str(path), remove_top=True)
    except OSError as exc:
        log.warning("could not remove %s: %s", path, exc)


def owned_dir(root: Path, name: str) -> Path:
    """A new folder under ``root`` marked as this process's (swept once the process is gone)."""
    make_private_dir(root)
    (root / OWNERS).mkdir(mode=0o700, exist_ok=True)
    (root / OWNERS / name).write_text(process_identity())
    folder = root / name
    folder.mkdir(mode=0o700)
    return folder


def remove_owned(root: Path, name: str) -> None:
    """Remove a folder made by :func:`owned_dir`, then its owner file."""
    remove_tree(root / name)
    try:
        os.unlink(root / OWNERS / name)
    except FileNotFoundError:
        pass


def _copy_plugin(source: Path, target: Path) -> None:
    """The plugin's files, readable by the sandbox user, hard-linked when possible."""
    if not source.is_dir():
        raise SandboxUnavailable(f"the plugin's files are missing at {source}")

    def link_or_copy(src: str, dst: str) -> None:
        try:
            os.link(src, dst)
            if os.stat(dst).st_mode & 0o044 != 0o044:  # shared inode: copy rather than chmod
                os.unlink(dst)
                raise OSError("not world-readable")
        except OSError:
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o644)

    shutil.copytree(
        source, target, symlinks=False, copy_function=link_or_copy, dirs_exist_ok=True
    )
    for folder, _dirs, _files in os.walk(target):
        os.chmod(folder, 0o755)


class Slot:
    """One pooled container and its channel. Owned by one thread at a time (the pool's lock
    hands it over); only ``cancel`` may come from another thread."""

    def __init__(self, profile: Profile, folder: Path) -> None:
        self.profile = profile
        self.folder = folder
        self.token = folder.name
        self.binding: Binding | None = None
        self.container_id: str | None = None
        self.sock: socket.socket | None = None
        self.listener: socket.socket | None = None
        self.runs = 0
        self.last_used = time.monotonic()
        self.settled = True
        self.ready: dict[str, Any] = {}
        self._send_lock = threading.Lock()

    # -- start -------------------------------------------------------------------------

    def listen(self) -> None:
        """The control socket the container connects to (before it is started)."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        path = self.folder / "ctl"
        listener.bind(str(path))
        os.chmod(path, 0o666)  # the sandbox user connects; the folder is mounted read-only
        listener.listen(1)
        self.listener = listener
        os.chmod(self.folder, 0o755)

    def connect(self, timeout: float = START_SECONDS) -> None:
        """Accept the runner's connection (the only one ever), then await its ``ready``."""
        listener = self.listener
        if listener is None:
            raise SlotBroken("the container was never started")
        try:
            listener.settimeout(timeout)
            sock, _ = listener.accept()
        except OSError as exc:  # a timeout, or the pool closed the listener (shutting down)
            raise SlotBroken(f"the container did not connect within {timeout:g} s") from exc
        finally:
            listener.close()
            self.listener = None
            try:
                os.unlink(self.folder / "ctl")
            except FileNotFoundError:
                pass
        self.sock = sock
        deadline = time.monotonic() + timeout
        while True:
            message = self.receive(deadline)
            if message.get("type") == "ready":
                self.ready = message
                return
            if message.get("type") != "hello":
                raise SlotBroken(f"the container refused to start: {message.get('reason')}")

    def bind(self, binding: Binding) -> None:
        """Dedicate this container to ``binding``: its plugin files go into the folder."""
        _copy_plugin(binding.plugin_dir, self.folder / "plugin")
        self.binding = binding

    # -- runs --------------------------------------------------------------------------

    def receive(self, deadline: float, cap: int = MAX_MESSAGE_BYTES) -> dict[str, Any]:
        message, fds = self._recv(deadline, recv_json, cap)
        close_fds(fds)
        return message

    def _recv(self, deadline: float, how: Callable[..., Any], cap: int) -> Any:
        sock = self.sock
        if sock is None:
            raise SlotBroken("the container's channel is closed")
        sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            return how(sock, cap)
        except ChannelClosed as exc:
            raise SlotBroken("the sandbox container stopped") from exc
        except TimeoutError as exc:
            raise SlotBroken("the sandbox container did not answer in time") from exc
        except (OSError, TransferError) as exc:
            raise SlotBroken(f"the sandbox container's channel failed: {exc}") from exc

    def send(self, message: dict[str, Any]) -> None:
        sock = self.sock
        if sock is None:
            raise SlotBroken("the container's channel is closed")
        with self._send_lock:
            try:
                sock.settimeout(10)
                send_json(sock, message)
            except OSError as exc:
                raise SlotBroken(f"the sandbox container's channel failed: {exc}") from exc

    def run(
        self,
        message: dict[str, Any],
        deadline: float,
        max_payload: int,
        on_events: Callable[[str], None] | None = None,
        sent: Callable[[], None] | None = None,
    ) -> Reply:
        """Send a job; the container's reply (events are handed to ``on_events`` meanwhile).

        ``sent`` is called once the job is on its way: work the host does meanwhile (recording
        that the run started) overlaps the run instead of delaying it.
        """
        self.settled = False
        self.runs += 1
        try:
            self.send(message)
        except SlotBroken as exc:
            raise SlotUnused(str(exc)) from exc
        if sent is not None:
            sent()
        while True:
            header = self.receive(deadline)
            kind = header.get("type")
            if kind == "events":
                if on_events is not None and isinstance(header.get("text"), str):
                    on_events(header["text"])
                continue
            if kind == "end":
                return Reply("end", header)
            if kind != "result":
                raise SlotBroken(f"unexpected message {kind!r} from the sandbox container")
            payload, fds = self._recv(deadline, recv_frame, max_payload)
            reply = Reply("result", header, payload, fds[0] if fds else None)
            close_fds(fds[1:])
            try:
                if header.get("inline"):
                    reply.inline, extra = self._recv(deadline, recv_frame, max_payload)
                    close_fds(extra)
            except SlotBroken:
                reply.close()
                raise
            return reply

    def settle(self, timeout: float = CLEAN_SECONDS) -> dict[str, Any]:
        """The runner's report after a run (``clean`` or ``retire``), read once."""
        if self.settled:
            return {"type": "clean"}
        report = self.receive(time.monotonic() + timeout)
        if report.get("type") not in ("clean", "retire"):
            raise SlotBroken(f"unexpected message {report.get('type')!r} after a run")
        self.settled = report["type"] == "clean"
        return report

    def cancel(self) -> None:
        """Ask the runner to kill the current run (it answers ``end``, status ``cancelled``)."""
        try:
            self.send({"type": "cancel"})
        except SlotBroken:
            pass

    def close(self) -> None:
        """Close the channel: the runner kills everything and exits; Docker removes it."""
        for sock in (self.sock, self.listener):
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
        self.sock = self.listener = None


class SandboxPool:
    """Warm and bound containers of one process; thread-safe. See the module docstring."""

    def __init__(
        self,
        settings: SandboxSettings,
        client: Callable[[], docker.DockerClient],
    ) -> None:
        self.settings = settings
        self._client = client
        self._cond = threading.Condition()
        self._warm: dict[Profile, list[Slot]] = {}
        self._idle: dict[tuple[Profile, tuple[str, str, str]], list[Slot]] = {}
        self._busy: set[Slot] = set()
        self._starting: dict[Profile, int] = {}
        self._waiting: dict[Profile, int] = {}
        self._used: dict[Profile, float] = {}
        self._kept: set[Profile] = set()
        self._count = 0
        self._cold = 0
        self._retiring: list[Slot] = []
        self._stopped = False
        self._warming = False
        self._thread: threading.Thread | None = None
        self._last_sweep = 0.0
        self._backoff_until = 0.0
        #: Labels this pool's containers (another pool of this process keeps its own).
        self.id = secrets.token_hex(6)
        self._opening: set[Slot] = set()
        _LIVE_POOLS.add(self.id)

    # -- folders -----------------------------------------------------------------------

    @property
    def root(self) -> Path:
        return self.settings.work_dir

    def new_folder(self) -> Path:
        """A fresh run folder, named by a random token (what ``/proc/self/mountinfo`` shows)."""
        return owned_dir(self.root, secrets.token_hex(8))

    def sweep_folders(self) -> int:
        """Remove run folders of processes that are gone (and this one's that it forgot)."""
        try:
            entries = list(os.scandir(self.root))
        except FileNotFoundError:
            return 0
        with self._cond:
            live = {s.token for s in self._all_slots()}
        removed = 0
        me = process_identity()
        for entry in entries:
            if entry.name == OWNERS or entry.name in live:
                continue
            try:
                owner = (self.root / OWNERS / entry.name).read_text()
            except OSError:
                owner = ""
            if owner == me or (not owner and time.time() - entry.stat().st_mtime < 60):
                continue  # ours (spool, events, a folder being made), or being made by another
            if owner and is_alive(owner):
                continue
            remove_owned(self.root, entry.name)
            removed += 1
        return removed

    # -- containers --------------------------------------------------------------------

    def keep_warm(self, profiles: list[Profile]) -> None:
        """Keep ``pool_size`` warm containers of each of ``profiles`` from now on."""
        with self._cond:
            self._kept.update(profiles)
            self._warming = True
            self._ensure_thread()
            self._cond.notify_all()

    def acquire(self, profile: Profile, binding: Binding) -> Slot:
        """A container for one run of ``binding`` (reused, warm, or started now)."""
        while True:
            slot, state = self._take(profile, binding)
            try:
                if state == "idle":
                    report = slot.settle()
                    if report["type"] != "clean":
                        raise SlotBroken(str(report.get("reason")))
                    return slot
                if state == "cold":
                    try:
                        slot = self._start(profile)
                    finally:
                        with self._cond:
                            self._cold -= 1
                            self._cond.notify_all()
                    with self._cond:
                        self._busy.add(slot)
                slot.bind(binding)
                return slot
            except SlotBroken as exc:
                log.info("sandbox container %s retired: %s", slot.token if slot else "-", exc)
                if slot is not None:
                    self.retire(slot)
            except BaseException:
                if slot is not None:
                    self.retire(slot)
                raise

    def _take(self, profile: Profile, binding: Binding) -> tuple[Any, str]:
        """Under the lock: an idle bound slot, a warm one, or a reservation for a cold one."""
        give_up = time.monotonic() + START_SECONDS
        with self._cond:
            if self._stopped:
                raise SandboxUnavailable("the sandbox is shutting down")
            self._used[profile] = time.monotonic()
            self._warming = True
            self._ensure_thread()
            while True:
                idle = self._idle.get((profile, binding.key))
                if idle:
                    slot = idle.pop()
                    self._busy.add(slot)
                    return slot, "idle"
                warm = self._warm.get(profile)
                if warm:
                    slot = warm.pop(0)
                    self._busy.add(slot)
                    self._cond.notify_all()  # the maintenance thread tops the pool up
                    return slot, "warm"
                coming = self._starting.get(profile, 0) - self._waiting.get(profile, 0)
                if coming > 0 and time.monotonic() < give_up:
                    # One is starting already: waiting for it costs less than starting another.
                    self._waiting[profile] = self._waiting.get(profile, 0) + 1
                    self._cond.wait(max(0.0, give_up - time.monotonic()))
                    self._waiting[profile] -= 1
                    continue
                self._make_room()
                self._count += 1
                self._cold += 1
                return None, "cold"

    def _make_room(self) -> None:
        """At the cap, retire the longest-idle bound container, else a warm one (lock held)."""
        if self._count < self.settings.pool_max_containers:
            return
        candidates = [s for slots in self._idle.values() for s in slots]
        if not candidates:
            candidates = [s for slots in self._warm.values() for s in slots]
        if candidates:
            victim = min(candidates, key=lambda s: s.last_used)
            self._forget(victim)
            self._retiring.append(victim)
            self._cond.notify_all()

    def release(self, slot: Slot, reuse: bool) -> None:
        """Back to the pool after a run (bound, for its binding's next run) or retired."""
        slot.last_used = time.monotonic()
        if not reuse or slot.binding is None or slot.runs >= MAX_RUNS_PER_CONTAINER:
            self.retire(slot)
            return
        with self._cond:
            self._busy.discard(slot)
            if self._stopped:
                self._retiring.append(slot)
            else:
                self._idle.setdefault((slot.profile, slot.binding.key), []).append(slot)
            self._cond.notify_all()

    def retire(self, slot: Slot, wait: bool = False) -> None:
        """Let a container go: its channel closes at once, its removal happens off this path
        (``wait``: here, for a caller that must know it gone, e.g. to remove its volume)."""
        slot.close()
        with self._cond:
            self._forget(slot)
            if not wait:
                self._retiring.append(slot)
                self._ensure_thread()
                self._cond.notify_all()
                return
        self._remove(slot)

    def retire_plugin(self, plugin_id: str) -> None:
        """Retire (and wait for) the idle containers bound to ``plugin_id`` or holding its volume."""
        with self._cond:
            doomed = [
                s for s in self._all_slots()
                if s not in self._busy
                and ((s.binding and s.binding.plugin_id == plugin_id) or s.profile.plugin_id == plugin_id)
            ]
        for slot in doomed:
            self.retire(slot, wait=True)

    def keeps(self, labels: dict[str, str]) -> bool:
        """Whether the reaper must leave a labelled container alone: another live process's,
        another pool's of this process, or one of this pool's live ones."""
        if labels.get(ctr.PROCESS_LABEL) != process_identity():
            return ctr.not_orphan(labels)
        pool = labels.get(ctr.POOL_LABEL, self.id)
        if pool != self.id:
            return pool in _LIVE_POOLS
        token = labels.get(ctr.RUN_LABEL)
        with self._cond:
            return any(s.token == token for s in self._all_slots())

    def counts(self) -> dict[str, int]:
        """How many containers are warm, idle (bound), busy and starting."""
        with self._cond:
            return {
                "warm": sum(len(v) for v in self._warm.values()),
                "idle": sum(len(v) for v in self._idle.values()),
                "busy": len(self._busy),
                "starting": sum(self._starting.values()),
                "total": self._count,
            }

    def shutdown(self) -> None:
        """Drain: every container's channel closes and every container is removed."""
        _LIVE_POOLS.discard(self.id)
        with self._cond:
            self._stopped = True
            for opening in self._opening:  # a container still starting: stop waiting for it
                if opening.listener is not None:
                    opening.listener.close()
            slots = self._all_slots()
            for slot in slots:
                self._forget(slot)
            slots += self._retiring
            self._retiring = []
            self._cond.notify_all()
        for slot in slots:
            slot.close()
        for slot in slots:
            self._remove(slot)
        for empty in (self.root / OWNERS, self.root):  # a store's run folder, once unused
            try:
                empty.rmdir()
            except OSError:
                pass  # in use (another process, a spool) or already gone
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=START_SECONDS)

    # -- internals -----------------------------------------------------------------------

    def _all_slots(self) -> list[Slot]:
        return [
            *(s for v in self._warm.values() for s in v),
            *(s for v in self._idle.values() for s in v),
            *self._busy,
        ]

    def _forget(self, slot: Slot) -> None:
        """Drop ``slot`` from every list (lock held); it no longer counts."""
        found = slot in self._busy
        self._busy.discard(slot)
        for slots in (*self._warm.values(), *self._idle.values()):
            if slot in slots:
                slots.remove(slot)
                found = True
        if found:
            self._count -= 1

    def _start(self, profile: Profile) -> Slot:
        """Create, start and connect one container (blocking; a reserved place is counted)."""
        slot: Slot | None = None
        try:
            slot = Slot(profile, self.new_folder())
            slot.listen()
            with self._cond:
                if self._stopped:
                    raise SandboxUnavailable("the sandbox is shutting down")
                self._opening.add(slot)
            client = self._client()
            options = ctr.pool_options(
                token=slot.token,
                image=profile.image,
                language=profile.language,
                network=profile.network,
                volume=profile.volume,
                plugin_id=profile.plugin_id,
                job_dir=slot.folder,
                settings=self.settings,
                pool=self.id,
            )
            try:
                created = client.containers.create(**options)
                slot.container_id = created.id
                created.start()
            except docker.errors.ImageNotFound as exc:
                raise SandboxUnavailable(f"runner image {profile.image} is missing: {exc}") from exc
            except (docker.errors.APIError, requests.RequestException) as exc:
                raise SandboxUnavailable(
                    f"the Docker engine could not start a sandbox container: {ctr.short_error(exc)}"
                ) from exc
            slot.connect()
            return slot
        except BaseException as exc:
            with self._cond:
                self._count -= 1
                self._cond.notify_all()
            if slot is not None:
                slot.close()
                self._remove(slot)
            if isinstance(exc, SlotBroken):
                why = "the sandbox is shutting down" if self._stopped else f"did not start: {exc}"
                raise SandboxUnavailable(f"a sandbox container {why}") from exc
            raise
        finally:
            if slot is not None:
                with self._cond:
                    self._opening.discard(slot)

    def _remove(self, slot: Slot) -> None:
        """Force-remove a retired container (if it did not exit already) and its folder."""
        slot.close()
        if slot.container_id is not None:
            try:
                self._client().containers.get(slot.container_id).remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
            except (docker.errors.DockerException, requests.RequestException, SandboxUnavailable) as exc:
                if "already in progress" not in str(exc):
                    log.warning("could not remove sandbox container %s: %s", slot.token, exc)
        remove_owned(self.root, slot.token)

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._maintain, name="omniscope-sandbox-pool", daemon=True
            )
            self._thread.start()

    def _maintain(self) -> None:
        """Top up warm pools, remove retired containers, retire idle ones, sweep folders."""
        while True:
            with self._cond:
                if self._stopped:
                    return
                retiring, self._retiring = self._retiring, []
                profile = None if retiring else self._to_start()
                if profile is not None:
                    self._starting[profile] = self._starting.get(profile, 0) + 1
                    self._count += 1
                elif not retiring:
                    self._cond.wait(timeout=self._next_wake())
            for slot in retiring:
                self._remove(slot)
            if profile is not None:
                self._warm_one(profile)
            self._housekeeping()

    def _to_start(self) -> Profile | None:
        """A profile whose warm pool is short, when there is room and no cold start (lock held)."""
        now = time.monotonic()
        if not self._warming or self._cold or now < self._backoff_until:
            return None
        if self._count >= self.settings.pool_max_containers:
            return None
        # A profile with a /data volume is one plugin's: its containers are started on demand.
        wanted = [p for p in self._kept] + [
            p for p, used in self._used.items()
            if p not in self._kept and p.volume is None and now - used < PROFILE_IDLE_SECONDS
        ]
        for profile in wanted:
            have = len(self._warm.get(profile, [])) + self._starting.get(profile, 0)
            if have < self.settings.pool_size:
                return profile
        return None

    def _warm_one(self, profile: Profile) -> None:
        try:
            slot = self._start(profile)
        except SandboxUnavailable as exc:
            log.warning("sandbox pool: %s", exc.message)
            with self._cond:
                self._starting[profile] -= 1
                self._backoff_until = time.monotonic() + 10
                self._cond.notify_all()
            return
        with self._cond:
            self._starting[profile] -= 1
            if self._stopped:
                self._count -= 1
                self._retiring.append(slot)
            else:
                self._warm.setdefault(profile, []).append(slot)
            self._cond.notify_all()
        if self._stopped:
            slot.close()
            self._remove(slot)

    def _next_wake(self) -> float:
        return max(1.0, min(self.settings.sweep_seconds, self.settings.pool_idle_seconds / 4))

    def _housekeeping(self) -> None:
        """Retire containers idle too long and profiles unused; sweep folders (periodically)."""
        now = time.monotonic()
        if now - self._last_sweep < self._next_wake():
            return
        self._last_sweep = now
        doomed = []
        with self._cond:
            for slots in self._idle.values():
                doomed += [s for s in slots if now - s.last_used > self.settings.pool_idle_seconds]
            for profile, slots in self._warm.items():
                used = self._used.get(profile, 0.0)
                if profile not in self._kept and now - used > PROFILE_IDLE_SECONDS:
                    doomed += slots
            for slot in doomed:
                self._forget(slot)
        for slot in doomed:
            slot.close()
            self._remove(slot)
        try:
            self.sweep_folders()
        except OSError as exc:
            log.warning("sandbox run folders not swept: %s", exc)
