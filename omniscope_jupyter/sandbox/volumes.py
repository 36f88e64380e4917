"""The ``file_system`` permission's per-plugin volume: creation, size cap, removal.

Docker's local volumes on overlay2 cannot be size-capped (``--storage-opt size`` needs xfs with
project quotas), so the cap is checked, not enforced: after each run of a plugin holding
``file_system``, once every process of the run is dead, the container's runner measures
``/data`` (allocated blocks, links not followed, folders the plugin made unreadable included:
they are the sandbox user's own) under a deadline (``volume_check_seconds``). A volume above
``SandboxSettings.max_volume_bytes`` is emptied and the run says so in its warnings; a
measurement that could not finish says why instead. Within one run the volume is bounded only
by the run's time and ``RLIMIT_FSIZE`` per file.
"""

from __future__ import annotations

import logging
import time

import docker
import docker.errors
import requests

from .container import OWNER_LABEL, PLUGIN_LABEL, short_error, volume_name
from .settings import SandboxSettings

log = logging.getLogger(__name__)

_ENGINE_ERRORS = (docker.errors.DockerException, requests.RequestException)


def ensure_volume(client: docker.DockerClient, settings: SandboxSettings, plugin_id: str) -> str:
    """Create the plugin's volume, labelled with its store and plugin (idempotent); its name."""
    name = volume_name(settings.owner, plugin_id)
    client.volumes.create(name, labels={OWNER_LABEL: settings.owner, PLUGIN_LABEL: plugin_id})
    return name


def over_cap(used: int, cap: int) -> str | None:
    """The run's warning when its volume holds more than ``cap`` bytes (then it is emptied)."""
    if used <= cap:
        return None
    return f"/data held {used} bytes, above the {cap}-byte cap, and was emptied"


def remove_volume(client: docker.DockerClient, name: str, patience: float = 0.0) -> bool:
    """Remove a volume; True when it is gone (or never existed). Failures are logged.

    A volume still in use (its container is being removed off the run's path) is asked again
    for up to ``patience`` seconds.
    """
    deadline = time.monotonic() + patience
    while True:
        try:
            client.volumes.get(name).remove(force=True)
        except docker.errors.NotFound:
            return True
        except docker.errors.APIError as exc:
            if exc.status_code == 409 and time.monotonic() < deadline:
                time.sleep(0.2)
                continue
            log.warning("could not remove volume %s: %s", name, short_error(exc))
            return False
        except _ENGINE_ERRORS as exc:
            log.warning("could not remove volume %s: %s", name, short_error(exc))
            return False
        return True
