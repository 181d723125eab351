"""Would an opt-in ``torch.compile`` or bf16 autocast pay for itself?

Times training steps of the throughput model (784-512-512-32, Bernoulli, Adam) written
by hand (:class:`benchmarks.baselines.PlainVAE`) four ways - eager float32, compiled
float32, eager bf16 autocast, compiled bf16 autocast - at batch 256 and 4096, rounds
interleaved, and reports the median samples/s of each against eager float32, the
compile time, and how far the bf16 fit's held-out negative ELBO (evaluated in float32)
lands from the float32 fit's after the same steps. skvae offers neither option; the
numbers decide whether it should.

    python -m benchmarks.gpu_options [--device cuda] [--steps 200] [--rounds 5]
"""

# License: BSD 3 clause

import argparse
import contextlib
import statistics
import time

import torch

from .baselines import PlainVAE
from .config import HIDDEN_LAYER_SIZES, LEARNING_RATE, N_COMPONENTS
from .data import binary_digits

VARIANTS = ("eager fp32", "compiled fp32", "eager bf16", "compiled bf16")


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _autocast(device, bf16):
    if not bf16:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def _make_step(variant, X, device, seed=0):
    """A closure running one Adam step on a random batch, and its model."""
    torch.manual_seed(seed)
    model = PlainVAE(X.shape[1], HIDDEN_LAYER_SIZES, N_COMPONENTS).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = torch.compile(model.loss, dynamic=False) if variant.startswith("compiled") else model.loss
    bf16 = variant.endswith("bf16")

    def step(batch):
        with _autocast(device, bf16):
            loss = loss_fn(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return step, model


def _time_steps(step, X, batch_size, n_steps, device, generator):
    index = torch.randint(len(X), (n_steps, batch_size), device=device, generator=generator)
    _sync(device)
    start = time.perf_counter()
    for i in range(n_steps):
        step(X[index[i]])
    _sync(device)
    return time.perf_counter() - start


def _held_out_loss(model, X):
    with torch.no_grad():
        return float(model.loss(X, generator=torch.Generator(X.device).manual_seed(1)))


def measure(device, batch_size, n_steps, rounds):
    """Median samples/s per variant, compile seconds, and held-out loss after training."""
    X = torch.as_tensor(binary_digits(65_536), dtype=torch.float32, device=device)
    X_train, X_test = X[:60_000], X[60_000:]
    generator = torch.Generator(device).manual_seed(0)
    steps, models, first = {}, {}, {}
    for variant in VARIANTS:
        steps[variant], models[variant] = _make_step(variant, X_train, device)
        first[variant] = _time_steps(steps[variant], X_train, batch_size, 3, device, generator)
    seconds = {variant: [] for variant in VARIANTS}
    for _ in range(rounds):
        for variant in VARIANTS:
            seconds[variant].append(
                _time_steps(steps[variant], X_train, batch_size, n_steps, device, generator))
    rate = {v: statistics.median(batch_size * n_steps / s for s in seconds[v]) for v in VARIANTS}
    loss = {v: _held_out_loss(models[v], X_test) for v in VARIANTS}
    return rate, first, loss


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=200, help="steps per timed round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batch-sizes", default="256,4096")
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"device: {name}; torch {torch.__version__}; {args.rounds} rounds x "
          f"{args.steps} steps per variant, interleaved")
    print("| batch | variant | samples/s (median) | vs eager fp32 | first 3 steps, s "
          "| held-out -ELBO after training |")
    print("| --- | --- | --- | --- | --- | --- |")
    for batch_size in map(int, args.batch_sizes.split(",")):
        rate, first, loss = measure(device, batch_size, args.steps, args.rounds)
        for v in VARIANTS:
            print(f"| {batch_size} | {v} | {rate[v]:,.0f} | {rate[v] / rate[VARIANTS[0]]:.2f}x "
                  f"| {first[v]:.1f} | {loss[v]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
