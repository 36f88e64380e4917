"""Shell and code execution: each must be HIGH, and # nosec must not silence them."""
import os
import subprocess


def run(cmd):
    os.system("ls -l")  # nosec
    subprocess.call(cmd, shell=True)  # nosec B602
    eval("1 + 1")
    exec("x = 1")
    return os.popen("id").read()
