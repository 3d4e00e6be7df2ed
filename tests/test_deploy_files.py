"""The files under deploy/ that the README shows: the systemd unit is checked by systemd itself.

nginx's files are run for real in tests/faults/test_nginx.py.
"""

import subprocess
import sys
from pathlib import Path

from tests.support.servers import ROOT
from tests.support.tools import require

UNIT = ROOT / "deploy" / "systemd" / "microblog.service"


def test_systemd_accepts_the_unit(tmp_path):
    """`systemd-analyze verify`; the unit's paths point at a copy of this checkout's tools."""
    systemd_analyze = require("systemd-analyze")
    home = tmp_path / "srv"
    (home / ".venv" / "bin").mkdir(parents=True)
    for tool in ("gunicorn", "flask"):
        (home / ".venv" / "bin" / tool).symlink_to(Path(sys.executable).with_name(tool))
    (tmp_path / "microblog.env").touch()
    unit = UNIT.read_text()
    for old, new in {"/srv/microblog": str(home), "/etc/microblog.env": str(tmp_path / "microblog.env")}.items():
        assert old in unit
        unit = unit.replace(old, new)
    (tmp_path / "microblog.service").write_text(unit)

    result = subprocess.run([systemd_analyze, "verify", str(tmp_path / "microblog.service")],
                            capture_output=True, text=True, timeout=60)  # fmt: skip

    assert result.returncode == 0 and result.stderr == "", result.stderr
