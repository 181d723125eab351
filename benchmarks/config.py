"""Sizes of each benchmark mode, and the model the throughput areas train.

``full`` is the suite the issue asks for; ``quick`` runs in under two minutes on a
2-core CPU; ``smoke`` only proves the code paths work (the test suite runs it).
"""

# License: BSD 3 clause

import dataclasses
from dataclasses import dataclass

#: Encoder widths of the throughput and inference model (the decoder mirrors them).
HIDDEN_LAYER_SIZES = (512, 512)
#: Latent size of the throughput and inference model.
N_COMPONENTS = 32
#: Adam's learning rate, on every side of the comparisons.
LEARNING_RATE = 1e-3


@dataclass(frozen=True)
class Settings:
    """Sizes for one run of the suite.

    Parameters
    ----------
    mode : str
    repeats : int
        Timed rounds of every interleaved comparison.
    throughput_rows, throughput_epochs : int
        Training set and epochs of each throughput fit.
    batch_sizes : tuple of int
    inference_rows : int
        Rows of the batch ``transform`` comparison.
    latency_calls : int
        Timed single-row calls per side.
    memory_shape : tuple of int
        ``(n_samples, n_features)`` of the float64 matrix whose fit memory is measured.
    scaling_rows : tuple of int
        The N of the scaling-in-N fits.
    scaling_widths : tuple of int
        The D of the scaling-in-width fits ...
    scaling_width_rows : int
        ... each on this many rows.
    quality_max_iter : int
        Epochs of the VAE in the quality area.
    small_data_max_iter : int or None
        ``max_iter`` of the "default" fit of the small-data area: None (the default
        parameters) in a full run, a few epochs where the run only exercises the code.
    """

    mode: str
    repeats: int
    throughput_rows: int
    throughput_epochs: int
    batch_sizes: tuple
    inference_rows: int
    latency_calls: int
    memory_shape: tuple
    scaling_rows: tuple
    scaling_widths: tuple
    scaling_width_rows: int
    quality_max_iter: int
    small_data_max_iter: int = None


MODES = {
    "smoke": Settings(
        mode="smoke", repeats=2, throughput_rows=512, throughput_epochs=1,
        batch_sizes=(64, 512), inference_rows=1_000, latency_calls=30,
        memory_shape=(20_000, 100), scaling_rows=(500, 1_000, 2_000),
        scaling_widths=(10, 100), scaling_width_rows=1_000, quality_max_iter=3,
        small_data_max_iter=3,
    ),
    "quick": Settings(
        mode="quick", repeats=3, throughput_rows=4_096, throughput_epochs=1,
        batch_sizes=(256, 4_096), inference_rows=10_000, latency_calls=200,
        memory_shape=(50_000, 100), scaling_rows=(3_000, 10_000, 30_000),
        scaling_widths=(10, 100, 1_000), scaling_width_rows=3_000, quality_max_iter=30,
        small_data_max_iter=30,
    ),
    "full": Settings(
        mode="full", repeats=7, throughput_rows=16_384, throughput_epochs=2,
        batch_sizes=(256, 4_096), inference_rows=100_000, latency_calls=2_000,
        memory_shape=(1_000_000, 100),
        scaling_rows=(10_000, 30_000, 100_000, 300_000, 1_000_000),
        scaling_widths=(10, 30, 100, 300, 1_000), scaling_width_rows=30_000,
        quality_max_iter=200,
    ),
}


def settings_for(mode, device):
    """The sizes of ``mode`` on ``device``.

    A GPU trains the throughput model some 300x faster than a 2-core CPU, so on CUDA
    the throughput set grows until one fit lasts long enough to time (well above
    the kernel-launch and synchronisation noise).

    Parameters
    ----------
    mode : {"smoke", "quick", "full"}
    device : torch.device

    Returns
    -------
    settings : Settings
    """
    settings = MODES[mode]
    if device.type == "cuda":
        settings = dataclasses.replace(
            settings,
            throughput_rows=settings.throughput_rows * 16,
            throughput_epochs=settings.throughput_epochs * 2,
        )
    return settings
