"""The Makefile's recipes that write files, run by the real `make` in a copy of the files they need."""

import re
import shutil
import stat
import subprocess
import sys

from tests.support.servers import ROOT


def test_make_env_writes_a_fresh_secret_key_that_only_its_owner_can_read(tmp_path):
    for name in ("Makefile", ".env.example"):
        shutil.copy(ROOT / name, tmp_path / name)
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").symlink_to(sys.executable)  # the recipe's Python, not a new venv

    # Under the usual umask 022, a file made without care is world-readable.
    result = subprocess.run(["sh", "-c", "umask 022 && make .env"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)  # fmt: skip

    assert result.returncode == 0, result.stderr
    env = tmp_path / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600, oct(env.stat().st_mode)
    assert re.search(r"^SECRET_KEY=[0-9a-f]{64}$", env.read_text(), re.MULTILINE)
