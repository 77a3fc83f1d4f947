"""Starts a real `evo-voice demo` on a free port for the client tests."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def binary_path() -> str:
    return os.environ.get("EVO_VOICE_BIN", str(ROOT / "target" / "debug" / "evo-voice"))


@pytest.fixture(scope="session")
def base_url():
    data_dir = tempfile.mkdtemp(prefix="evo-voice-py-client-")
    process = subprocess.Popen(
        [binary_path(), "demo", "--bind", "127.0.0.1:0", "--data-dir", data_dir,
         "--access-token-ttl", "2", "--speed", "20"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    output = ""
    deadline = time.time() + 60
    url = None
    while time.time() < deadline and url is None:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        output += line
        match = re.search(r"running on (http://[0-9.:]+)", line)
        if match:
            url = match.group(1)
    if url is None:
        process.kill()
        raise RuntimeError(f"the demo server did not start:\n{output}")
    # The DTOs are the ones the server generates (/types/python).
    import sys
    import urllib.request
    with urllib.request.urlopen(f"{url}/types/python") as response:
        source = response.read().decode("utf-8")
    with open(os.path.join(data_dir, "dtos.py"), "w", encoding="utf-8") as file:
        file.write(source)
    sys.path.insert(0, data_dir)
    yield url
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def dtos(base_url):
    """The DTOs the server generated (/types/python), imported as a module."""
    import importlib
    return importlib.import_module("dtos")
