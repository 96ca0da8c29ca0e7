"""archdsl's Python API in one page: load a spec, inspect shapes, count, render, lower.

    python examples/quickstart.py
"""
import archdsl
from archdsl.analysis.table import render_table

# 1. A spec written inline, the way ResNet's Table 1 prints a CIFAR network.
SPEC = """
network tiny-resnet
input 3×32×32
classes 10
with shortcut A, batchnorm
conv1 32×32: 3×3, 16
conv2 32×32: [3×3, 16; 3×3, 16] ×2
conv3 16×16: [3×3, 32; 3×3, 32] ×2
        1×1: average pool, 10-d fc, softmax
"""
arch = archdsl.load(SPEC)                        # validated IR; torch is not imported
print(f"{arch.name}: {arch.depth} weighted layers, output {arch.output_shape}")
print("conv3.0.conv1 output:", arch.shapes["conv3.0.conv1"])

# 2. Exact counts, torch-free, under a named convention.
counts = archdsl.count(arch, convention="paper")
print(f"params {counts.total.params:,}  MACs {counts.total.macs:,} ({counts.description})")
for row in counts.stages:
    print(f"  {row.name:<8} params {row.params:>7,}  MACs {row.macs:>11,}")

# 3. A bundled family member by name, rendered as the paper's table.
print(render_table([archdsl.load("resnet20"), archdsl.load("resnet56")], "markdown"))

# 4. Lowering to PyTorch (imports torch only now).
import torch  # noqa: E402

model = archdsl.create_model(arch)
logits = model(torch.randn(2, *arch.input_shape))
print("logits", tuple(logits.shape), "stages", list(model.forward_stages(torch.randn(1, 3, 32, 32))))
