"""PyTorch models of the book (chapter 7 on), and a layer-by-layer summary table.

:class:`LeNet` is the lecture's ``Net`` (conv 1->6 5x5, 2x2 max pool, conv 6->16 5x5, 2x2 max
pool, fc 400->120->84->10, ReLU) made to accept MNIST's 28x28 images: ``conv1`` pads by 2 pixels,
as d2l does, so the feature maps are the same sizes a 32x32 input gives without padding (the
lecture's ``16 * 5 * 5 = 400`` inputs to ``fc1``).  ``variant="1998"`` swaps in sigmoid
activations and average pooling.  Its parameter names match :class:`dlcourse.numpy_lenet.NumpyLeNet`.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["LeNet", "layer_table", "LayerTable"]


class LeNet(nn.Module):
    """LeNet for ``(N, 1, 28, 28)`` images; returns logits ``(N, num_classes)``.

    ``variant``: ``"modern"`` (the lecture's ``Net``: ReLU, max pooling) or ``"1998"`` (sigmoid,
    average pooling).  ``padding``: of ``conv1``; 2 for 28x28 input (the default), 0 for 32x32.
    Activations and pooling are modules (``act1``, ``pool1``, ...) so :func:`layer_table` lists them.
    """

    def __init__(self, variant="modern", num_classes=10, padding=2):
        super().__init__()
        if variant not in ("modern", "1998"):
            raise ValueError(f"variant must be 'modern' or '1998', got {variant!r}")
        self.variant = variant
        Act = nn.ReLU if variant == "modern" else nn.Sigmoid
        Pool = nn.MaxPool2d if variant == "modern" else nn.AvgPool2d
        self.input_size = 32 - 2 * padding
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=padding)  # (N, 6, 28, 28)
        self.act1 = Act()
        self.pool1 = Pool(2, 2)                                          # (N, 6, 14, 14)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)                     # (N, 16, 10, 10)
        self.act2 = Act()
        self.pool2 = Pool(2, 2)                                          # (N, 16, 5, 5)
        self.flatten = nn.Flatten()                                      # (N, 400)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.act3 = Act()
        self.fc2 = nn.Linear(120, 84)
        self.act4 = Act()
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x):
        if x.dim() != 4 or tuple(x.shape[1:]) != (1, self.input_size, self.input_size):
            raise ValueError(
                f"LeNet(padding={self.conv1.padding[0]}) expects images of shape "
                f"(N, 1, {self.input_size}, {self.input_size}), got {tuple(x.shape)}"
            )
        x = self.pool1(self.act1(self.conv1(x)))
        x = self.pool2(self.act2(self.conv2(x)))
        x = self.flatten(x)
        x = self.act3(self.fc1(x))
        x = self.act4(self.fc2(x))
        return self.fc3(x)


class LayerTable(list):
    """Rows ``{"name", "type", "output_shape", "params"}`` of :func:`layer_table`; ``str()`` pretty-prints."""

    @property
    def total_params(self):
        return sum(row["params"] for row in self)

    def to_string(self):
        header = ("layer", "type", "output shape", "parameters")
        lines = [(r["name"], r["type"], str(tuple(r["output_shape"])), f"{r['params']:,}") for r in self]
        lines.append(("total", "", "", f"{self.total_params:,}"))
        widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]
        fmt = lambda row: "  ".join(  # noqa: E731
            str(x).rjust(w) if i == 3 else str(x).ljust(w) for i, (x, w) in enumerate(zip(row, widths))
        ).rstrip()
        rule = "-" * len(fmt(header))
        return "\n".join([fmt(header), rule, *map(fmt, lines[:-1]), rule, fmt(lines[-1])])

    __str__ = to_string

    def _repr_markdown_(self):  # a table in Jupyter
        rows = [f"| {r['name']} | {r['type']} | {tuple(r['output_shape'])} | {r['params']:,} |" for r in self]
        return "\n".join(["| layer | type | output shape | parameters |", "|---|---|---|---:|", *rows,
                          f"| **total** | | | **{self.total_params:,}** |"])


def layer_table(model, input_shape, device=None):
    """Run one zero input through ``model`` and list every leaf module it calls, in call order.

    ``input_shape``: the shape of one batch, e.g. ``(1, 1, 28, 28)``.  Returns a
    :class:`LayerTable`: a list of rows ``{"name", "type", "output_shape", "params"}`` (the
    module's own parameters; a module called twice appears twice, its parameters counted once),
    whose ``str()`` is a pretty table and ``total_params`` the model's parameter count.
    """
    if device is None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
    rows, seen, hooks = LayerTable(), set(), []
    names = {module: name for name, module in model.named_modules()}

    def hook(module, inputs, output):
        own = 0 if id(module) in seen else sum(p.numel() for p in module.parameters(recurse=False))
        seen.add(id(module))
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
        rows.append({"name": names[module], "type": type(module).__name__, "output_shape": shape, "params": own})

    for module in model.modules():
        if not list(module.children()):  # leaves only
            hooks.append(module.register_forward_hook(hook))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(input_shape, device=device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()
    return rows
