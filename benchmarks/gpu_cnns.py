"""Benchmark: training throughput (images per second) of AlexNet, VGG-11 and ResNet-18 on a GPU (chapters 8-13).

Each network at ImageNet size (3x224x224 input, 1000 classes), batch 128, one SGD step (momentum
0.9) per batch, on synthetic images already on the GPU -- so the figure is the network's training
speed, not the data pipeline's.  Each is measured in float32 (TF32 allowed, PyTorch's default
for cuDNN convolutions) and with automatic mixed precision (``torch.autocast`` float16 and a
``GradScaler``).  ``cudnn.benchmark`` picks the fastest convolution algorithms during the
warm-up steps, which are not timed.

Without a CUDA GPU the script prints why and exits with status 0 (nothing to measure).

    python benchmarks/gpu_cnns.py              # writes benchmarks/results/gpu_cnns.json
    python benchmarks/gpu_cnns.py --steps 5 --no-write
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODELS = ("alexnet", "vgg11", "resnet18")


def build(name):
    from dlcourse.models import AlexNet, resnet18, vgg11

    return {"alexnet": AlexNet, "vgg11": vgg11, "resnet18": resnet18}[name]()


def images_per_second(name, amp, batch_size, steps, warmup):
    import torch
    import torch.nn.functional as F

    device = torch.device("cuda")
    torch.manual_seed(0)
    model = build(name).to(device).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler("cuda", enabled=amp)
    X = torch.randn(batch_size, 3, 224, 224, device=device)
    y = torch.randint(0, 1000, (batch_size,), device=device)

    def step():
        with torch.autocast("cuda", dtype=torch.float16, enabled=amp):
            loss = F.cross_entropy(model(X), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss

    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        loss = step()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    result = dict(images_per_second=round(batch_size * steps / seconds, 1), seconds=round(seconds, 3),
                  steps=steps, batch_size=batch_size, final_loss=round(float(loss), 4),
                  peak_memory_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2))
    del model, opt, X, y
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--only", help="comma-separated: " + ",".join(MODELS))
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "gpu_cnns.json"))
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("gpu_cnns: PyTorch is not installed; nothing to measure")
        return 0
    if not torch.cuda.is_available():
        print("gpu_cnns: no CUDA GPU available (torch.cuda.is_available() is False); nothing to measure, skipping")
        return 0
    torch.backends.cudnn.benchmark = True
    names = MODELS if not args.only else tuple(n.strip() for n in args.only.split(","))
    results = dict(benchmark="gpu_cnns", date=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                   gpu=torch.cuda.get_device_name(), torch=torch.__version__, cuda=torch.version.cuda,
                   cudnn=torch.backends.cudnn.version(), python=platform.python_version(),
                   input="synthetic 3x224x224 images, 1000 classes", tf32_conv=torch.backends.cudnn.allow_tf32,
                   tf32_matmul=torch.backends.cuda.matmul.allow_tf32, models={})
    for name in names:
        results["models"][name] = {}
        for amp in (False, True):
            r = images_per_second(name, amp, args.batch_size, args.steps, args.warmup)
            results["models"][name]["amp" if amp else "fp32"] = r
            print(f"{name:9s} {'AMP fp16' if amp else 'float32 '}: {r['images_per_second']:8.1f} images/s "
                  f"(batch {r['batch_size']}, {r['steps']} steps, peak {r['peak_memory_gib']} GiB)", flush=True)
        fp32, amp = (results["models"][name][k]["images_per_second"] for k in ("fp32", "amp"))
        results["models"][name]["amp_speedup"] = round(amp / fp32, 2)
    if not args.no_write:
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
