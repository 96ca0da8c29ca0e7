"""archdsl.atomic: a failed write leaves the old file and no temp files; modes are sane."""
import os
import stat

import pytest

from archdsl.atomic import atomic_path, write_text, write_texts


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


def test_write_texts_changes_a_set_together(tmp_path):
    a, b = tmp_path / "model.py", tmp_path / "ir.yaml"
    a.write_text("old a")
    b.write_text("old b")
    assert write_texts({a: "new a", b: "new b"}) == [a, b]
    assert (a.read_text(), b.read_text()) == ("new a", "new b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ir.yaml", "model.py"]


def test_write_texts_failure_leaves_every_old_file(tmp_path, monkeypatch):
    """A failure while the second content is written: the first file is not replaced yet."""
    import archdsl.atomic as atomic
    a, b = tmp_path / "model.py", tmp_path / "ir.yaml"
    a.write_text("old a")
    b.write_text("old b")
    real = atomic._write

    def fail_on_second(tmp, text):
        if text == "new b":
            raise OSError("disk full")
        real(tmp, text)
    monkeypatch.setattr(atomic, "_write", fail_on_second)
    with pytest.raises(OSError):
        write_texts({a: "new a", b: "new b"})
    assert (a.read_text(), b.read_text()) == ("old a", "old b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ir.yaml", "model.py"]
