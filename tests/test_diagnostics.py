"""Every spec in tests/bad_specs/ fails ``archdsl check`` with exit 2 and the diagnostic its
``.expect`` sidecar names: for each error a line ``LINE:COL message`` (the message is a
substring of the printed one), optionally followed by ``hint: substring`` and by one
``note: LINE:COL substring`` line per secondary location the error points at (a block's
definition, the first of two duplicates), in the printed order; ``args: ...`` gives extra
command-line arguments. Positions are exact, every printed note must be listed, and no
traceback may be printed."""
import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pytest

from archdsl.cli.main import main
from conftest import ROOT

BAD = sorted((ROOT / "tests" / "bad_specs").glob("*.arch"))
ERROR = re.compile(r"^(.*?):(\d+):(\d+): error: (.*)$")
NOTE = re.compile(r"^(.*?):(\d+):(\d+): note: (.*)$")


def _located(text: str) -> dict:
    """``LINE:COL message`` -> its position and message."""
    pos, msg = text.strip().split(" ", 1)
    ln, col = map(int, pos.split(":"))
    return {"line": ln, "col": col, "message": msg.strip()}


def read_expect(path: Path):
    """The extra arguments and the expected errors (each with its hint and notes) of a sidecar."""
    args, errors = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        if line.startswith("args:"):
            args = line[5:].split()
        elif line.startswith("hint:"):
            errors[-1]["hint"] = line[5:].strip()
        elif line.startswith("note:"):
            errors[-1]["notes"].append(_located(line[5:]))
        else:
            errors.append({**_located(line), "hint": None, "notes": []})
    return args, errors


class Result:
    def __init__(self, returncode, stdout, stderr):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def run_check(*argv):
    """``archdsl check ARGV`` in-process (fast); an escaping exception fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.chdir(ROOT), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main(["check", *argv])
    return Result(rc, out.getvalue(), err.getvalue())


def run_check_subprocess(*argv):
    code = ("import sys; from archdsl.cli.main import main; rc = main(sys.argv[1:]); "
            "assert 'torch' not in sys.modules, 'torch imported'; sys.exit(rc)")
    return subprocess.run([sys.executable, "-c", code, "check", *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def parse_output(stderr: str):
    """The errors in rendered output: position, message, hint and notes of each."""
    out = []
    for line in stderr.splitlines():
        if m := ERROR.match(line):
            out.append({"file": m[1], "line": int(m[2]), "col": int(m[3]), "message": m[4],
                        "hint": None, "notes": []})
        elif (m := NOTE.match(line)) and out:
            out[-1]["notes"].append({"file": m[1], "line": int(m[2]), "col": int(m[3]),
                                     "message": m[4]})
        elif line.startswith("  hint: ") and out:
            out[-1]["hint"] = line[8:]
    return out


def test_corpus_is_big_enough():
    assert len(BAD) >= 60
    for f in BAD:
        assert f.with_suffix(".expect").exists(), f"{f.name} has no .expect sidecar"


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.stem)
def test_bad_spec(path):
    args, expected = read_expect(path.with_suffix(".expect"))
    assert expected, "the sidecar names no error"
    r = run_check(str(path.relative_to(ROOT)), *args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    assert r.stdout == ""
    got = parse_output(r.stderr)
    assert len(got) == len(expected), r.stderr
    for g, e in zip(got, expected):
        assert (g["line"], g["col"]) == (e["line"], e["col"]), r.stderr
        assert e["message"] in g["message"], r.stderr
        if e["hint"] is not None:
            assert g["hint"] is not None and e["hint"] in g["hint"], r.stderr
        if g["file"] != "<command line>":
            assert g["file"].endswith(path.name)
        assert len(g["notes"]) == len(e["notes"]), r.stderr
        for gn, en in zip(g["notes"], e["notes"]):
            assert (gn["line"], gn["col"]) == (en["line"], en["col"]), r.stderr
            assert en["message"] in gn["message"], r.stderr
            assert gn["file"].endswith(path.name), r.stderr
    if len(expected) > 1:
        assert r.stderr.rstrip().endswith(f"{len(expected)} errors")


def test_alexnet_at_224_names_the_fixes():
    r = run_check("tests/bad_specs/alexnet_224_pad0.arch")
    assert r.returncode == 2
    assert "224×224" in r.stderr and "227" in r.stderr and "padding 2" in r.stderr


def test_caret_under_the_error():
    r = run_check("tests/bad_specs/typo_maxpool.arch")
    lines = r.stderr.splitlines()
    i = next(i for i, l in enumerate(lines) if "error:" in l)
    assert lines[i + 1] == "  conv2 16×16: maxpoool"
    assert lines[i + 2] == "  " + " " * 13 + "^" * len("maxpoool")


def test_bad_and_good_specs_together():
    r = run_check("specs/resnet18.arch", "tests/bad_specs/typo_conv.arch", "specs/vgg-a.arch")
    assert r.returncode == 2
    assert r.stdout.count("\n") == 2 and "resnet18" in r.stdout and "vgg-a" in r.stdout
    assert "cnov3-16" in r.stderr


def test_missing_file():
    r = run_check("tests/bad_specs/does-not-exist.arch")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "does-not-exist" in r.stderr


def test_unknown_family_member_suggests():
    r = run_check("resnet5")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "resnet5" in r.stderr and "hint:" in r.stderr


def test_define_must_be_a_number():
    r = run_check("specs/resnet-cifar.arch", "-D", "n=three")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "n" in r.stderr


def test_whole_corpus_in_a_real_process():
    """One subprocess over every bad spec: exit 2, one diagnostic block per file, no traceback,
    torch never imported."""
    plain = [f for f in BAD if "args:" not in f.with_suffix(".expect").read_text()]
    r = run_check_subprocess(*[str(f.relative_to(ROOT)) for f in plain])
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr + r.stdout
    assert r.stdout == ""
    files = {e["file"] for e in parse_output(r.stderr)}
    assert files == {str(f.relative_to(ROOT)) for f in plain}
