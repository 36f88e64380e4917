from pathlib import Path
from typing import Any
import nbformat, pytest
from nbclient import NotebookClient
from .test_notebooks import NOTEBOOKS, kernel_env

@pytest.mark.usefixtures("docker_ready", "http_server")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
async def test_dump(path: Path, tmp_path: Path, jp_serverapp: Any) -> None:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    await client.async_execute(env=kernel_env(jp_serverapp, tmp_path))
    nbformat.write(nb, f"/tmp/{path.stem}.out.ipynb")
