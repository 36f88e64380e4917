"""The ``file_system`` permission's per-plugin volume: creation, size check, removal.

Docker's local volumes on overlay2 cannot be size-capped (``--storage-opt size`` needs xfs with
project quotas), so the cap is checked, not enforced: after each run of a plugin holding
``file_system`` a throwaway container of the runner image (our code, no network, volume mounted
read-only) measures the volume's disk usage with ``du``; a volume above
``SandboxSettings.max_volume_bytes`` is emptied and the run says so in its warnings. Within one
run the volume is bounded only by the run's time and ``RLIMIT_FSIZE`` per file.
"""

from __future__ import annotations

import logging

import docker
import docker.errors
import requests

from .container import OWNER_LABEL, PLUGIN_LABEL, PROCESS_LABEL, RUN_LABEL, short_error, volume_name
from .processes import process_identity
from .settings import SandboxSettings

log = logging.getLogger(__name__)

_ENGINE_ERRORS = (docker.errors.DockerException, requests.RequestException)


def ensure_volume(client: docker.DockerClient, settings: SandboxSettings, plugin_id: str) -> str:
    """Create the plugin's volume, labelled with its store and plugin (idempotent); its name."""
    name = volume_name(settings.owner, plugin_id)
    client.volumes.create(name, labels={OWNER_LABEL: settings.owner, PLUGIN_LABEL: plugin_id})
    return name


def volume_bytes(
    client: docker.DockerClient, image: str, name: str, labels: dict[str, str]
) -> int:
    """Disk usage of volume ``name`` in bytes, measured by ``du`` in a throwaway container.

    ``du`` runs as root with only ``CAP_DAC_READ_SEARCH``, so directories a plugin made
    unreadable are counted too; symbolic links are not followed.
    """
    output = client.containers.run(
        image,
        ["du", "-s", "-k", "-x", "/data"],
        user="0:0",
        cap_drop=["ALL"],
        cap_add=["DAC_READ_SEARCH"],
        security_opt=["no-new-privileges:true"],
        read_only=True,
        network_mode="none",
        volumes={name: {"bind": "/data", "mode": "ro"}},
        labels=labels,
        mem_limit="64m",
        pids_limit=16,
        remove=True,
        stdout=True,
        stderr=False,
    )
    return int(output.split()[0]) * 1024


def check_volume(
    client: docker.DockerClient,
    settings: SandboxSettings,
    image: str,
    plugin_id: str,
    execution_id: str,
) -> str | None:
    """Empty the plugin's volume when it is above the cap; a warning for the run, or None."""
    name = volume_name(settings.owner, plugin_id)
    try:
        labels = {
            RUN_LABEL: f"{execution_id}-volume",
            OWNER_LABEL: settings.owner,
            PROCESS_LABEL: process_identity(),
        }
        used = volume_bytes(client, image, name, labels)
    except (*_ENGINE_ERRORS, ValueError, IndexError) as exc:
        log.warning("could not measure volume %s: %s", name, short_error(exc))
        return None
    if used <= settings.max_volume_bytes:
        return None
    cap = settings.max_volume_bytes
    if remove_volume(client, name):
        return f"/data held {used} bytes, above the {cap}-byte cap, and was emptied"
    return f"/data holds {used} bytes, above the {cap}-byte cap; it is in use and was kept"


def remove_volume(client: docker.DockerClient, name: str) -> bool:
    """Remove a volume; True when it is gone (or never existed). Failures are logged."""
    try:
        client.volumes.get(name).remove(force=True)
    except docker.errors.NotFound:
        return True
    except _ENGINE_ERRORS as exc:
        log.warning("could not remove volume %s: %s", name, short_error(exc))
        return False
    return True
