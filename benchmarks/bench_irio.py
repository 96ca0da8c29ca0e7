"""ir.yaml written and read back, against parsing and building the .arch it came from.

    python benchmarks/bench_irio.py [--spec resnet1202] [--reps 7]

Contenders, interleaved: ``load`` (parse + build the spec), ``graph_to_yaml`` (what
``archdsl build`` writes; the node list by ir/yamlnodes, the rest by PyYAML), the same text
by a single pure-Python ``yaml.dump`` (the writer before), ``load('ir.yaml')`` (the read
path: rebuilt from the carried spec when that reproduces the file), and ``graph_from_yaml``
(the general reader every hand-edited file takes). Ratios are to ``load``.
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import yaml
from _harness import interleave, load_average, spread

from archdsl import load
from archdsl.ir import yamlio


class _PurePython(yaml.SafeDumper):
    pass


_PurePython.add_representer(yamlio._Flow, lambda d, data: d.represent_mapping(
    "tag:yaml.org,2002:map", data.items(), flow_style=True))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="resnet1202")
    ap.add_argument("--reps", type=int, default=7)
    args = ap.parse_args()
    graph = load(args.spec)
    text = yamlio.graph_to_yaml(graph)
    doc = yaml.load(text, Loader=yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader)
    for node in doc["nodes"]:   # the writer's own document: attributes as one-line mappings
        node["attrs"] = yamlio._Flow(node["attrs"])
    path = Path(tempfile.mkdtemp()) / "ir.yaml"
    path.write_text(text)
    assert load(str(path)) == graph == yamlio.graph_from_yaml(text)
    pure = yaml.dump(doc, Dumper=_PurePython, sort_keys=False, default_flow_style=None,
                     allow_unicode=True, width=1000)
    print(f"bench_irio: {args.spec}, {len(graph.nodes):,} nodes, ir.yaml {len(text) / 1e6:.2f} MB "
          f"(byte-identical to one pure-PyYAML dump: {pure == text}); libyaml "
          f"{yaml.__with_libyaml__}; {args.reps} rounds; {load_average()}")
    t = interleave({
        "load(spec)": lambda: load(args.spec),
        "graph_to_yaml": lambda: yamlio.graph_to_yaml(graph),
        "pure-PyYAML dump": lambda: yaml.dump(doc, Dumper=_PurePython, sort_keys=False,
                                              default_flow_style=None, allow_unicode=True,
                                              width=1000),
        "load(ir.yaml)": lambda: load(str(path)),
        "graph_from_yaml": lambda: yamlio.graph_from_yaml(text),
    }, reps=args.reps)
    print(f"{'contender':<20}{'s min / median / max':>28}{'÷ load(spec) min / med / max':>32}")
    for name in t.names:
        print(f"{name:<20}{spread(t.times[name], 1, '{:.3f}'):>28}"
              f"{spread(t.ratios(name, 'load(spec)'), 1, '{:.1f}×'):>32}")


if __name__ == "__main__":
    main()
