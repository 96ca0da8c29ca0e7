"""archdsl.atomic: a failed write leaves the old file and no temp files; modes are sane."""
import os
import stat

import pytest

from archdsl.atomic import atomic_path, write_text


def test_replaces_and_keeps_mode(tmp_path):
    f = tmp_path / "model.py"
    f.write_text("old")
    os.chmod(f, 0o640)
    write_text(f, "new\r\n")
    assert f.read_bytes() == b"new\r\n"
    assert stat.S_IMODE(f.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["model.py"]


def test_new_file_gets_umask_mode_not_0600(tmp_path):
    f = write_text(tmp_path / "ir.yaml", "x: 1\n")
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(f.stat().st_mode) == 0o666 & ~umask


def test_failure_midway_leaves_old_file(tmp_path):
    f = tmp_path / "report.json"
    f.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(f) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert f.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]
