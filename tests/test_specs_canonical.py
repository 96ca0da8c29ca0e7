"""The bundled specs are in canonical form: `archdsl fmt --check specs/*.arch` passes."""
from archdsl.lang.fmt import format_spec
from conftest import SPECS


def test_every_bundled_spec_is_canonical():
    assert SPECS
    not_canonical = [p.name for p in SPECS
                     if format_spec(p.read_text(encoding="utf-8")) != p.read_text(encoding="utf-8")]
    assert not_canonical == []
