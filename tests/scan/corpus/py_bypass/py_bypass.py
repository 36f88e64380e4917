"""Code the static scan does not catch (documented): the sandbox is the boundary."""
import base64
import importlib


class PyBypass:
    def execute(self, input_data):
        ev = getattr(__builtins__ if isinstance(__builtins__, dict) is False else None, "ev" + "al", None)
        evaluate = getattr(importlib.import_module("built" + "ins"), "ev" + "al")
        module = importlib.import_module("o" + "s")
        run = getattr(module, "sys" + "tem")
        payload = base64.b64decode(b"cHJpbnQoJ2hpJyk=").decode()
        ex = getattr(importlib.import_module("builtins"), "ex" + "ec")
        ex(payload)
        return {"data": input_data.get("data"), "ev": ev, "e": evaluate, "run": run}
