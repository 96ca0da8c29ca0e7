"""Which names a network, a stage or a layer may take: one rule, checked wherever a name
comes from (a ``network`` line, a file stem, an alias, ``-D`` member names, an ``ir.yaml``).

A network name becomes a directory (``build/<name>``) and a class name; a stage or layer
name becomes an attribute of an ``nn.Module`` in the generated ``model.py``. So a network
name follows the grammar's NAME token (no ``/``, no ``..``), and a stage name must be a
Python identifier that none of ``nn.Module``'s own attributes (``forward``, ``training``,
``state_dict`` …) or the generated module's names already use. Torch-free: the attribute
list is spelt out (tests/test_codegen_safety.py holds it to the installed torch).
"""
from __future__ import annotations

import keyword
import re

from archdsl.errors import ArchError, Span

#: The grammar's NAME token (lang/grammar.lark): ``resnet50``, ``vgg16-bn``, ``resnet50-v1.5``.
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:[-.][A-Za-z0-9_]+)*")
#: Longest network name: it is a directory name (255 bytes on most file systems) and more.
MAX_NAME = 100

# nn.Module's public attributes (torch 2.13; tests/test_codegen_safety.py holds this to
# dir(nn.Module), so a torch upgrade that adds one fails there).
MODULE_ATTRIBUTES = frozenset({
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "call_super_init", "children",
    "compile", "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward",
    "get_buffer", "get_extra_state", "get_parameter", "get_submodule", "half", "ipu",
    "load_state_dict", "modules", "mtia", "named_buffers", "named_children", "named_modules",
    "named_parameters", "parameters", "register_backward_hook", "register_buffer",
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter",
    "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_",
    "set_extra_state", "set_submodule", "share_memory", "state_dict", "to", "to_empty", "train",
    "type", "xpu", "zero_grad",
    "training",   # an instance attribute, set in nn.Module.__init__
})

#: Names a stage, layer or argument must not take in generated code: nn.Module's own
#: attributes, the generated methods and argument, and the module-level names of model.py.
RESERVED = MODULE_ATTRIBUTES | {"self", "forward_features", "forward_stages", "num_classes",
                                "torch", "nn", "F", "run", "math", "OrderedDict"}


def network_name_error(name: object) -> str | None:
    """Why ``name`` cannot be a network name, or None when it can."""
    if not isinstance(name, str):
        return f"a network name is text, not {type(name).__name__} {name!r:.40}"
    if len(name) > MAX_NAME:
        return f"the network name is {len(name):,} characters long (at most {MAX_NAME})"
    if not NAME.fullmatch(name):
        return f"{name[:60]!r} is not a network name"
    return None


def check_network_name(name: object, span: Span | None, source: str | None = None,
                       where: str = "") -> str:
    """``name`` if it is a valid network name (letters, digits, ``_``, inner ``-`` and
    ``.``), else a located ArchError: it names a directory and a class. ``where`` says
    where the name came from (``"the file name: "``)."""
    why = network_name_error(name)
    if why is not None:
        raise ArchError(where + why, span, hint="a network name is letters, digits and '_', with "
                        "'-' or '.' inside (like resnet50-v1.5); it names the build directory",
                        source=source)
    return name  # type: ignore[return-value]


def stage_name_error(name: object) -> str | None:
    """Why ``name`` cannot name a stage (an attribute of the generated nn.Module), or None."""
    if not isinstance(name, str) or not name.isidentifier() or not name.isascii():
        return f"stage name {name!r:.60} must be an identifier (letters, digits, '_')"
    if keyword.iskeyword(name):
        return f"stage name '{name}' is a Python keyword"
    if name.startswith("_") or name in RESERVED:
        return (f"stage name '{name}' is reserved: the generated nn.Module has its own "
                f"attribute '{name}'")
    return None
