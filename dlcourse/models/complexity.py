"""Counting a network: parameters and multiply-accumulates per layer, by running it once.

:func:`layer_table` (chapter 7) lists every leaf module a forward pass calls with its output shape
and its own parameters; :func:`complexity` (chapters 8-13) adds the multiply-accumulate count
(``macs``) of each layer, so the lecture's complexity tables (AlexNet vs LeNet, VGG A-E, the
inception rows, ResNet-18/34) are reproduced by counting instead of by hand.

What one MAC is here (one multiply and one add; papers that say "FLOPs" or "ops" for these
networks mean this count, e.g. ResNet-18's "1.8 G FLOPs"):

* ``Conv2d``: every output element is a dot product of ``C_in/groups * kh * kw`` inputs and
  weights, so ``macs = output.numel() * C_in/groups * kh * kw``.  ``ConvTranspose2d``: every
  input element is scattered through ``C_out/groups * kh * kw`` weights.
* ``Linear``: ``macs = output.numel() * in_features``.
* The bias additions are not counted (the papers' convention; they are one add per output).
* ``BatchNorm``: one multiply-add per element (at inference it folds into a per-channel scale
  and shift: ``y = a*x + b``), ``macs = output.numel()``.
* Average pooling (``AvgPool2d``, ``AdaptiveAvgPool2d``): each input element of a window is added
  once, scaled by ``1/k^2``: ``macs = output.numel() * kh * kw`` (the mean's window).
* Max pooling, activations, dropout, flatten, and the additions of residual connections and the
  concatenations of inception blocks: 0 (comparisons, copies and lone additions, not
  multiply-adds; they cost memory traffic rather than arithmetic).

So the totals of networks whose arithmetic is all convolutions and dense layers (AlexNet, VGG,
GoogLeNet) equal the published multiply-add counts; for ResNet the batch norms add about 0.1 %.
:attr:`ComplexityTable.total_macs` counts every row; :meth:`ComplexityTable.macs_of` sums chosen
layer types, e.g. ``table.macs_of("Conv2d", "Linear")`` for the papers' figure.

The count needs only shapes, so a model built on PyTorch's ``meta`` device (no memory, no
arithmetic) is counted instantly even at VGG-16's size::

    with torch.device("meta"):
        model = vgg16()
    complexity(model, (1, 3, 224, 224)).total_macs   # 15,470,264,320
"""
from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["LayerTable", "ComplexityTable", "layer_table", "complexity", "count_params"]


def count_params(model):
    """The number of parameters (weights and biases, each tensor counted once) of ``model``."""
    return sum(p.numel() for p in model.parameters())


class LayerTable(list):
    """Rows ``{"name", "type", "output_shape", "params"}`` of :func:`layer_table`; ``str()`` pretty-prints."""

    @property
    def total_params(self):
        return sum(row["params"] for row in self)

    def to_string(self):
        header = ("layer", "type", "output shape", "parameters")
        lines = [(r["name"], r["type"], str(tuple(r["output_shape"])), f"{r['params']:,}") for r in self]
        lines.append(("total", "", "", f"{self.total_params:,}"))
        return _render(header, lines, numeric=(3,))

    __str__ = to_string

    def _repr_markdown_(self):  # a table in Jupyter
        rows = [f"| {r['name']} | {r['type']} | {tuple(r['output_shape'])} | {r['params']:,} |" for r in self]
        return "\n".join(["| layer | type | output shape | parameters |", "|---|---|---|---:|", *rows,
                          f"| **total** | | | **{self.total_params:,}** |"])


def _render(header, lines, numeric):
    """Fixed-width text table: a header, a rule, the rows, a rule, the last row (the total)."""
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines)]

    def fmt(row):
        return "  ".join(str(x).rjust(w) if i in numeric else str(x).ljust(w)
                         for i, (x, w) in enumerate(zip(row, widths))).rstrip()

    rule = "-" * len(fmt(header))
    return "\n".join([fmt(header), rule, *map(fmt, lines[:-1]), rule, fmt(lines[-1])])


def _human(n):
    """``1234567 -> '1.23 M'``: the scale papers quote (K, M, G, powers of 1000)."""
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.3g} {unit}"
    return str(n)


class ComplexityTable(LayerTable):
    """Rows ``{"name", "type", "output_shape", "params", "macs"}`` of :func:`complexity`.

    ``total_params``, ``total_macs``; ``str()`` a text table, Markdown in Jupyter
    (:meth:`to_markdown`); :meth:`group` sums the rows of each block (e.g. one row per inception
    block); :meth:`row` looks one up by name; :meth:`macs_of` sums chosen layer types.
    """

    module_shapes: dict = {}  # every module's output shape by name, filled by complexity()
    module_types: dict = {}  # every module's type name by name

    @property
    def total_macs(self):
        return sum(row["macs"] for row in self)

    def row(self, name):
        """The row called ``name`` (``KeyError`` listing the names if there is none)."""
        for r in self:
            if r["name"] == name:
                return r
        raise KeyError(f"no layer named {name!r}; the layers are {[r['name'] for r in self]}")

    def macs_of(self, *types):
        """Sum of ``macs`` over the rows whose ``type`` is one of ``types`` (e.g. ``"Conv2d"``)."""
        return sum(r["macs"] for r in self if r["type"] in types)

    def group(self, depth=1):
        """One row per module prefix of ``depth`` dotted parts (``"inception3a.b2.0.0" ->
        "inception3a"`` for depth 1): ``params`` and ``macs`` summed, ``type`` and
        ``output_shape`` those of the module of that name (e.g. ``Inception``, its concatenated
        output)."""
        out, index = ComplexityTable(), {}
        out.module_shapes = self.module_shapes
        for r in self:
            key = ".".join(r["name"].split(".")[:depth])
            if key not in index:
                index[key] = len(out)
                out.append({"name": key, "type": self.module_types.get(key, r["type"]),
                            "output_shape": r["output_shape"], "params": 0, "macs": 0})
            g = out[index[key]]
            g["params"] += r["params"]
            g["macs"] += r["macs"]
            g["output_shape"] = self.module_shapes.get(key, r["output_shape"])
        out.module_types = self.module_types
        return out

    def to_string(self):
        header = ("layer", "type", "output shape", "parameters", "MACs")
        lines = [(r["name"], r["type"], str(tuple(r["output_shape"] or ())), f"{r['params']:,}", f"{r['macs']:,}")
                 for r in self]
        lines.append(("total", "", "", f"{self.total_params:,}", f"{self.total_macs:,}"))
        return _render(header, lines, numeric=(3, 4))

    __str__ = to_string

    def to_markdown(self, human=True):
        """A Markdown table; ``human``: counts as ``1.23 M`` (else exact, with thousands separators)."""
        f = _human if human else (lambda n: f"{n:,}")
        rows = [f"| {r['name']} | {r['type']} | {tuple(r['output_shape'] or ())} | {f(r['params'])} | {f(r['macs'])} |"
                for r in self]
        return "\n".join(["| layer | type | output shape | parameters | MACs |", "|---|---|---|---:|---:|", *rows,
                          f"| **total** | | | **{f(self.total_params)}** | **{f(self.total_macs)}** |"])

    _repr_markdown_ = to_markdown


def _macs(module, inputs, output):
    """Multiply-accumulates of one call of a leaf ``module`` (see the module docstring)."""
    if not isinstance(output, torch.Tensor):
        return 0
    n_out = output.numel()
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return n_out * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, nn.ConvTranspose2d):
        kh, kw = module.kernel_size
        return inputs[0].numel() * (module.out_channels // module.groups) * kh * kw
    if isinstance(module, nn.Linear):
        return n_out * module.in_features
    if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        return n_out
    if isinstance(module, nn.AvgPool2d):
        k = module.kernel_size
        kh, kw = (k, k) if isinstance(k, int) else k
        return n_out * kh * kw
    if isinstance(module, nn.AdaptiveAvgPool2d):
        h, w = inputs[0].shape[-2:]
        oh, ow = output.shape[-2:]
        return n_out * math.ceil(h / oh) * math.ceil(w / ow)  # the (largest) window of each mean
    return 0


def _run_with_hooks(model, input_shape, device, on_call, shapes=None):
    """Run a zero batch through ``model``, calling ``on_call(module, name, inputs, output)`` after
    every leaf module; ``shapes`` (a dict), if given, receives every module's output shape by name."""
    if device is None:
        device = next((p.device for p in model.parameters()), torch.device("cpu"))
    hooks, names = [], {module: name for name, module in model.named_modules()}
    for module in model.modules():
        if not list(module.children()):  # leaves only
            hooks.append(module.register_forward_hook(
                lambda m, i, o: on_call(m, names[m], i, o)))
        elif shapes is not None and module is not model:
            hooks.append(module.register_forward_hook(
                lambda m, i, o: shapes.__setitem__(names[m], tuple(o.shape) if isinstance(o, torch.Tensor) else None)))
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(tuple(input_shape), device=device))
    finally:
        model.train(was_training)
        for h in hooks:
            h.remove()


def layer_table(model, input_shape, device=None):
    """Run one zero input through ``model`` and list every leaf module it calls, in call order.

    ``input_shape``: the shape of one batch, e.g. ``(1, 1, 28, 28)``.  Returns a
    :class:`LayerTable`: a list of rows ``{"name", "type", "output_shape", "params"}`` (the
    module's own parameters; a module called twice appears twice, its parameters counted once),
    whose ``str()`` is a pretty table and ``total_params`` the model's parameter count.
    """
    rows, seen = LayerTable(), set()

    def on_call(module, name, inputs, output):
        own = 0 if id(module) in seen else sum(p.numel() for p in module.parameters(recurse=False))
        seen.add(id(module))
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
        rows.append({"name": name, "type": type(module).__name__, "output_shape": shape, "params": own})

    _run_with_hooks(model, input_shape, device, on_call)
    return rows


def complexity(model, input_shape, device=None):
    """Parameters and multiply-accumulates of every layer of ``model`` on an input of ``input_shape``.

    ``input_shape``: one batch, e.g. ``(1, 3, 224, 224)``; MACs are counted for the whole batch,
    so give batch size 1 for the per-image figures papers quote.  ``device``: where the zero input
    is made (default: the model's; a model on the ``meta`` device is counted without arithmetic).
    The model runs once in eval mode without gradients, with forward hooks on its leaf modules.

    Returns a :class:`ComplexityTable`: rows ``{"name", "type", "output_shape", "params", "macs"}``
    in call order (a module called twice appears twice, its parameters counted once), ``str()`` a
    text table, ``total_params`` / ``total_macs``, :meth:`ComplexityTable.group` for block totals.
    What counts as a MAC for each layer type is in this module's docstring.
    """
    if len(tuple(input_shape)) < 2:
        raise ValueError(f"input_shape must include the batch dimension, e.g. (1, 3, 224, 224); got {tuple(input_shape)}")
    rows, seen, shapes = ComplexityTable(), set(), {}

    def on_call(module, name, inputs, output):
        own = 0 if id(module) in seen else sum(p.numel() for p in module.parameters(recurse=False))
        seen.add(id(module))
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
        row = {"name": name, "type": type(module).__name__, "output_shape": shape, "params": own,
               "macs": int(_macs(module, inputs, output))}
        rows.append(row)

    _run_with_hooks(model, input_shape, device, on_call, shapes)
    rows.module_shapes = shapes
    rows.module_types = {name: type(m).__name__ for name, m in model.named_modules() if name}
    return rows
