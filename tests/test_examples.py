"""The examples stay runnable: quickstart.py runs and prints what it claims."""
import subprocess
import sys

from conftest import ROOT


def test_quickstart_runs():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "tiny-resnet: 10 weighted layers, output (10,)" in out.stdout
    assert "| conv2 | 32×32 | [3×3, 16; 3×3, 16] ×3 | [3×3, 16; 3×3, 16] ×9 |" in out.stdout
    assert "logits (2, 10)" in out.stdout
