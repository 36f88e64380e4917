"""File writes without the file_system permission (PY102) and native code (PY103)."""
import os
import shutil
from pathlib import Path
from os import remove as rm


def save(df, path, mode):
    with open(path, "w") as f:
        f.write("x")
    open(path, mode="a")
    os.rename(path, path + ".bak")
    shutil.rmtree("/tmp/x")
    Path(path).write_text("x")
    Path(path).open("wb")
    rm(path)
    df.to_csv(path)
    open(path, mode)
    open(path)
    df.to_json()
    return "http://www".replace("w", "v")


import ctypes
from cffi import FFI
