"""Benchmark: the autoencoders of chapter 20 and the GANs of chapter 21 at full length, on a CPU.

Data: the official MNIST test set (10,000 images; ``../shared/data/mnist`` beside the checkout, or
wherever ``DLCOURSE_DATA`` / ``DLCOURSE_MNIST`` / ``--data`` point), split with a fixed seed into
7,000 training, 1,000 validation and 2,000 test images, pixels in [0, 1].

Autoencoders (``dlcourse.models.autoencoder``, Adam 1e-3, batches of 128, binary cross-entropy
from the logits): a dense one with a 2-D code (the latent space the book plots), a dense and a
convolutional one with 16-D codes, and the convolutional one trained as a *denoising* autoencoder
(Gaussian noise of standard deviation 0.5, clipped to [0, 1], on the input only).  Recorded: test
losses (per-pixel BCE and the MSE of the sigmoid output against the clean image), the MSE of a
PCA with the same number of components (the best *linear* code, the baseline), the denoising
comparison on noisy test images, training time, the 2-D codes of the test images, a few
reconstructions.

GANs (``dlcourse.models.gan``, MLPs, Adam 2e-4 / betas (0.5, 0.999), batches of 64, a discriminator
first trained alone for 100 updates so that it starts out winning, as early in training): the
non-saturating generator loss, the minimax one, and the non-saturating one with a 5x larger
learning rate (a setting prone to mode collapse).  A LeNet (chapter 7) trained on the 7,000
training images classifies 2,000 samples of each generator: the class histogram, how many classes
get at least 2 % of the samples, and the entropy of the histogram (ln 10 = 2.30 for ten equally
frequent classes).  The generator's gradient norm under both losses is probed along the way.

    python benchmarks/generative.py                 # writes benchmarks/results/generative.json
    python benchmarks/generative.py --parallel      # the two parts side by side, one thread each
    python benchmarks/generative.py --smoke --no-write
"""
from __future__ import annotations

import os
import sys

THREADS = 2
if "--threads" in sys.argv[:-1]:
    THREADS = int(sys.argv[sys.argv.index("--threads") + 1])
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = str(THREADS)  # before NumPy and torch load their thread pools

import argparse  # noqa: E402
import base64  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AE_CONFIGS = {
    "dense-2": dict(model="dense", latent_dim=2, epochs=10),
    "dense-16": dict(model="dense", latent_dim=16, epochs=10),
    "conv-16": dict(model="conv", latent_dim=16, epochs=10),
    "conv-16-denoising": dict(model="conv", latent_dim=16, epochs=10, noise_std=0.5),
}
GAN_CONFIGS = {
    "nonsaturating": dict(generator_loss="nonsaturating", steps=3000, lr=2e-4),
    "minimax": dict(generator_loss="minimax", steps=1500, lr=2e-4),
    "nonsaturating-lr1e-3": dict(generator_loss="nonsaturating", steps=1500, lr=1e-3),
}
D_PRETRAIN = 100
N_CLASSIFIED = 2000


def machine():
    import torch

    info = dict(python=platform.python_version(), platform=platform.platform(), cpu_count=os.cpu_count(),
                numpy=np.__version__, torch=torch.__version__, threads=THREADS)
    try:
        info["cpu_model"] = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                                 if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    if hasattr(os, "getloadavg"):
        info["load_average_before"] = [round(x, 2) for x in os.getloadavg()]
    return info


def pack_images(images):
    """Images in [0, 1] -> {"shape", "uint8_base64"}: small enough for a JSON the book reads."""
    a = np.clip(np.rint(np.asarray(images) * 255), 0, 255).astype(np.uint8)
    return {"shape": list(a.shape), "uint8_base64": base64.b64encode(a.tobytes()).decode("ascii")}


def unpack_images(packed):
    """The inverse of :func:`pack_images`: float images in [0, 1]."""
    raw = np.frombuffer(base64.b64decode(packed["uint8_base64"]), dtype=np.uint8)
    return raw.reshape(packed["shape"]).astype(np.float32) / 255


def pca_mse(train, test, k):
    """MSE of the best rank-k linear reconstruction (PCA fitted on ``train``) of ``test``."""
    A, B = train.reshape(len(train), -1).astype(np.float64), test.reshape(len(test), -1).astype(np.float64)
    mean = A.mean(axis=0)
    _, _, Vt = np.linalg.svd(A - mean, full_matrices=False)
    V = Vt[:k].T
    rec = (B - mean) @ V @ V.T + mean
    return float(np.mean((rec - B) ** 2))


CHECKPOINT = None  # a function(part, results) called after every model, to save partial results


def _checkpoint(part, results, **extra):
    if CHECKPOINT is not None:
        CHECKPOINT(part, results, extra)


def run_autoencoders(splits, scale, progress):
    import torch

    from dlcourse import torch_ops
    from dlcourse.models.autoencoder import ConvAutoencoder, DenseAutoencoder, evaluate_autoencoder, train_autoencoder

    (Xtr, _), (Xva, _), (Xte, yte) = splits
    results = {}
    shown = Xte[:8]
    for name, cfg in AE_CONFIGS.items():
        torch.manual_seed(0)
        model = (DenseAutoencoder(latent_dim=cfg["latent_dim"]) if cfg["model"] == "dense"
                 else ConvAutoencoder(latent_dim=cfg["latent_dim"]))
        std = cfg.get("noise_std")
        corrupt = None if std is None else (lambda x, g, s=std: torch_ops.gaussian_noise(x, s, rng=g))
        epochs = max(1, round(cfg["epochs"] * scale))
        start, cpu = time.perf_counter(), time.process_time()
        hist = train_autoencoder(model, Xtr, Xva, epochs=epochs, corrupt=corrupt, device="cpu", progress=progress)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        model.eval()
        clean = evaluate_autoencoder(model, Xte)
        with torch.no_grad():
            rec = torch.sigmoid(model(torch.as_tensor(Xte))).numpy()
        r = dict(config=cfg, epochs=epochs, params=sum(p.numel() for p in model.parameters()),
                 train_seconds=round(seconds, 1), cpu_seconds=round(cpu, 1), test_bce=clean,
                 test_mse=float(np.mean((rec - Xte) ** 2)), pca_mse=pca_mse(Xtr, Xte, cfg["latent_dim"]),
                 history={k: [round(v, 5) for v in vals] for k, vals in hist.items()},
                 reconstructions=pack_images(rec[:8]))
        # On noisy test images (the same noise for every model): how far is the output from the clean image?
        g = torch.Generator().manual_seed(123)
        noisy = torch_ops.gaussian_noise(torch.as_tensor(Xte), 0.5, rng=g)
        with torch.no_grad():
            out = torch.sigmoid(model(noisy)).numpy()
        r["noisy_input_mse"] = float(np.mean((out - Xte) ** 2))
        r["noisy_reconstructions"] = pack_images(out[:8])
        if name == "conv-16-denoising":
            results["noisy_inputs"] = pack_images(noisy.numpy()[:8])
            results["noisy_input_vs_clean_mse"] = float(np.mean((noisy.numpy() - Xte) ** 2))
        if cfg["latent_dim"] == 2:
            with torch.no_grad():
                codes = model.encode(torch.as_tensor(Xte)).numpy()
            r["codes"] = np.round(codes, 3).tolist()
            r["code_labels"] = yte.tolist()
        results[name] = r
        _checkpoint("autoencoders", dict(results, originals=pack_images(shown)))
        print(f"{name}: test BCE {clean:.4f}, MSE {r['test_mse']:.4f} (PCA {r['pca_mse']:.4f}), "
              f"noisy-input MSE {r['noisy_input_mse']:.4f}, {seconds:.0f} s", flush=True)
    results["originals"] = pack_images(shown)
    return results


def train_classifier(splits, scale, progress):
    import torch

    from dlcourse.data import to_nchw
    from dlcourse.models import LeNet
    from dlcourse.train import evaluate, train

    (Xtr, ytr), (Xva, yva), (Xte, yte) = splits
    std = lambda X: to_nchw((X[:, 0] * 255).round().astype(np.uint8))  # noqa: E731  same scaling as the page
    torch.manual_seed(0)
    net = LeNet()
    start = time.perf_counter()
    train(net, (std(Xtr), ytr), (std(Xva), yva), epochs=max(1, round(2 * scale)), lr=0.05, momentum=0.9,
          lr_schedule="cosine", device="cpu", progress=progress)
    _, acc = evaluate(net, (std(Xte), yte), device="cpu")
    print(f"classifier: test accuracy {acc:.4f}", flush=True)
    return net, dict(test_acc=acc, train_seconds=round(time.perf_counter() - start, 1))


def class_stats(probs):
    counts = np.bincount(probs.argmax(axis=1), minlength=10)
    freq = counts / counts.sum()
    entropy = float(-(freq[freq > 0] * np.log(freq[freq > 0])).sum())
    return dict(counts=counts.tolist(), classes_over_2pct=int((freq >= 0.02).sum()), entropy=entropy,
                mean_confidence=float(probs.max(axis=1).mean()))


def run_gans(splits, classifier, scale, progress, classifier_info=None):
    import torch

    from dlcourse.models.gan import Discriminator, Generator, digit_probabilities, train_gan

    (Xtr, _), _, _ = splits
    results = {}
    for name, cfg in GAN_CONFIGS.items():
        torch.manual_seed(0)
        G, D = Generator(), Discriminator()
        steps = max(50, round(cfg["steps"] * scale))
        every = max(1, steps // 8)
        over_training = []

        def on_sample(step, G):
            probs = digit_probabilities(classifier, (G.sample(500, torch.Generator().manual_seed(step)) + 1) / 2)
            over_training.append(dict(step=step, **class_stats(probs)))

        start, cpu = time.perf_counter(), time.process_time()
        h = train_gan(G, D, Xtr, steps=steps, lr=cfg["lr"], generator_loss=cfg["generator_loss"], d_pretrain=D_PRETRAIN,
                      sample_every=every, probe_every=max(1, steps // 60), on_sample=on_sample, device="cpu",
                      progress=progress)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        final = (G.sample(N_CLASSIFIED, torch.Generator().manual_seed(99)) + 1) / 2
        stats = class_stats(digit_probabilities(classifier, final))
        thin = max(1, steps // 600)
        results[name] = dict(
            config=cfg, steps=steps, d_pretrain=D_PRETRAIN, train_seconds=round(seconds, 1), cpu_seconds=round(cpu, 1),
            final=stats, over_training=over_training,
            curves={k: [round(float(np.mean(h[k][i:i + thin])), 4) for i in range(0, steps, thin)]
                    for k in ("d_loss", "g_loss", "d_real", "d_fake")},
            curve_step=thin, probe=[[round(float(v), 5) for v in p] for p in h["probe"]],
            samples=[dict(step=s, images=pack_images(img)) for s, img in h["samples"]],
            final_samples=pack_images(final[:64].numpy()))
        _checkpoint("gans", results, classifier=classifier_info)
        print(f"GAN {name}: {steps} steps in {seconds:.0f} s; classes >= 2 %: {stats['classes_over_2pct']}, "
              f"counts {stats['counts']}, final mean D(G(z)) {np.mean(h['d_fake'][-100:]):.3f}", flush=True)
    return results


def _run_part(part, splits, scale, progress, threads):
    import torch

    torch.set_num_threads(threads)
    if part == "autoencoders":
        return {"autoencoders": run_autoencoders(splits, scale, progress)}
    classifier, clf = train_classifier(splits, scale, progress)
    return {"classifier": clf, "gans": run_gans(splits, classifier, scale, progress, clf)}


def main(argv=None):
    import torch

    from dlcourse.data import load_mnist, split_dataset

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", help="folder with t10k-images-idx3-ubyte.gz")
    parser.add_argument("--smoke", action="store_true", help="a few percent of the length (checks the script runs)")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--only", choices=("autoencoders", "gans"))
    parser.add_argument("--note", default="", help="free text stored with the results (e.g. the machine's load)")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--threads", type=int, default=2, help="torch / BLAS threads (read before the imports)")
    parser.add_argument("--out", help="results file (default: benchmarks/results/generative.json)")
    parser.add_argument("--parallel", action="store_true",
                        help="run the autoencoders and the GANs in two processes of one thread each")
    args = parser.parse_args(argv)
    torch.set_num_threads(THREADS)
    data = args.data
    if data is None and not (os.environ.get("DLCOURSE_DATA") or os.environ.get("DLCOURSE_MNIST")):
        data = ROOT.parent / "shared" / "data" / "mnist"
    images, labels = load_mnist("test", root=data, progress=False)
    X = (images.astype(np.float32) / 255)[:, None]
    splits = split_dataset(X, labels, (7000, 1000, 2000), seed=0)
    scale = 0.03 if args.smoke else 1.0
    progress = not args.no_progress
    out_path = Path(args.out) if args.out else ROOT / "benchmarks" / "results" / "generative.json"
    results = json.loads(out_path.read_text()) if (args.only and out_path.exists()) else {}
    results.update(date=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                   machine=machine(), smoke=args.smoke, note=args.note,
                   data=dict(train=7000, val=1000, test=2000, real_mnist=len(images) == 10000))
    start = time.perf_counter()
    parts = [p for p in ("autoencoders", "gans") if args.only in (None, p)]
    global CHECKPOINT
    if not args.no_write and not args.parallel:
        def CHECKPOINT(part, value, extra):  # noqa: N802 - the module hook: partial results survive an interruption
            partial = dict(results, **{part: value}, **extra, partial=True)
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_text(json.dumps(partial, indent=1) + "\n")
    if len(parts) == 2 and args.parallel:
        # The two parts are independent: one process each (one thread each), results merged here.
        import multiprocessing

        results["machine"]["threads"] = 1
        with multiprocessing.get_context("spawn").Pool(2) as pool:
            for part, value in zip(parts, pool.starmap(_run_part, [(p, splits, scale, progress, 1) for p in parts])):
                results.update(value)
    else:
        for part in parts:
            results.update(_run_part(part, splits, scale, progress, THREADS))
    results["total_seconds"] = round(time.perf_counter() - start, 1)
    results["partial"] = False
    if hasattr(os, "getloadavg"):
        results["machine"]["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    if not args.no_write:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(json.dumps(results, indent=1) + "\n")
        print(f"wrote {out_path}")


if __name__ == "__main__":
    main()
