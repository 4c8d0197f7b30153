"""The tests run against the installed package (`pip install ./python` into the test command's
virtualenv), never this checkout's sources: nothing here puts python/ on the path."""
import json
import os
import subprocess
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
TESTDATA = os.environ.get("AMLJPEG_TESTDATA", os.path.join(HERE, "..", "..", "testdata"))
EMULATOR = os.environ.get("JPEGENC_EMU_LIB", os.path.join(ROOT, "target", "release", "libjpegenc_emu.so"))


def emulated(script, args, timeout=300, **env):
    """Runs `script` in a child Python with the emulated /dev/jpegenc preloaded (the emulator
    must be there when the process starts) and `env` set, for at most `timeout` seconds;
    returns its stdout parsed as JSON and the emulator's counters ({} when the device was never
    opened)."""
    if not os.path.exists(EMULATOR):
        pytest.fail("libjpegenc_emu.so is not built (cargo build --release --workspace)")
    with tempfile.TemporaryDirectory() as state:
        stats_file = os.path.join(state, "stats.json")
        child_env = dict(os.environ, LD_PRELOAD=EMULATOR, JPEGENC_EMU_STATE_DIR=state,
                         JPEGENC_EMU_STATS=stats_file)
        child_env.update(env)
        out = subprocess.run([sys.executable, "-c", script] + list(args), env=child_env,
                             capture_output=True, text=True, timeout=timeout)
        assert out.returncode == 0, out.stderr
        stats = json.load(open(stats_file)) if os.path.exists(stats_file) else {}
        return json.loads(out.stdout), stats
