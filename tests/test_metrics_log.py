"""metrics.jsonl: a resume keeps rows up to its checkpoint and survives a torn last append."""
import json

import pytest

from archdsl.train.errors import TrainError
from archdsl.train.feedback import MetricsLog


def test_resume_drops_rows_after_the_checkpoint_and_a_torn_line(tmp_path):
    f = tmp_path / "metrics.jsonl"
    rows = [{"step": s, "loss": 1.0 / s} for s in (10, 20, 30)]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows) + '{"step": 40, "lo')  # killed mid-append
    log = MetricsLog(f, resume_step=20)
    assert log.rows() == rows[:2]
    log.write({"step": 30, "loss": 0.5})
    assert [r["step"] for r in log.rows()] == [10, 20, 30]


def test_fresh_run_empties_the_log(tmp_path):
    f = tmp_path / "metrics.jsonl"
    f.write_text('{"step": 1}\n')
    assert MetricsLog(f).rows() == []


def test_a_bad_line_in_the_middle_is_an_error(tmp_path):
    f = tmp_path / "metrics.jsonl"
    f.write_text('{"step": 1}\nnot json\n{"step": 2}\n')
    with pytest.raises(TrainError, match="line 2 is not a JSON row"):
        MetricsLog(f, resume_step=5)
