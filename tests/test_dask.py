"""Scale-out on Dask: a grid search on a local cluster and an out-of-core Incremental fit.

Skipped unless the ``dask`` extra is installed (``pip install -e ".[dask]"``). The
recipes tested here are the ones in docs/user_guide/practical.rst ("Scaling out with
Dask").
"""

# License: BSD 3 clause

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")
pytest.importorskip("dask_ml")
resource = pytest.importorskip("resource")  # POSIX only: peak RSS of the subprocess

import joblib  # noqa: E402
import torch  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from skvae import VAETransformer  # noqa: E402
from skvae.datasets import make_manifold  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

#: One thread per library in each worker process, so two single-threaded workers use
#: two cores and do not oversubscribe them. (The nanny sets these by default too; they
#: are passed explicitly because a user's Dask configuration can change that default.)
WORKER_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def client(request):
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
        env=WORKER_ENV,
    )
    request.addfinalizer(cluster.close)
    client = distributed.Client(cluster)
    request.addfinalizer(client.close)  # finalisers run last-in first-out
    return client


def _grid_search():
    return GridSearchCV(
        VAETransformer(hidden_layer_sizes=(16,), max_iter=4, random_state=0, device="cpu"),
        {"n_components": [1, 2], "beta": [0.5, 1.0]},
        cv=3,
    )


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_grid_search_on_local_cluster_matches_n_jobs_1(client):
    X, _ = make_manifold(240, n_features=6, random_state=0)

    local = _grid_search().set_params(n_jobs=1).fit(X)
    with distributed.get_task_stream(client) as tasks, joblib.parallel_config(backend="dask"):
        remote = _grid_search().fit(X)

    # The 4 candidates x 3 folds ran as tasks (joblib may batch several fits into one)
    # on both of the cluster's worker processes, which use one torch thread each.
    print(f"{len(tasks.data)} tasks")
    assert len({task["worker"] for task in tasks.data}) == 2
    threads = client.run(torch.get_num_threads)
    assert len(threads) == 2 and set(threads.values()) == {1}, threads

    assert remote.best_params_ == local.best_params_
    np.testing.assert_allclose(remote.cv_results_["mean_test_score"],
                               local.cv_results_["mean_test_score"], rtol=1e-6)
    np.testing.assert_allclose(remote.best_estimator_.transform(X[:20]),
                               local.best_estimator_.transform(X[:20]), rtol=1e-5, atol=1e-6)


#: Runs in a fresh interpreter so that its peak resident memory (ru_maxrss) measures this
#: fit alone. Prints one JSON line.
INCREMENTAL_SCRIPT = textwrap.dedent("""
    import json, resource, sys

    import dask
    import dask.array as da
    import numpy as np
    import torch
    from dask_ml.wrappers import Incremental

    from skvae import VAETransformer

    torch.set_num_threads(1)
    n_rows, n_features, chunk_rows = map(int, sys.argv[1:4])
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB else

    def peak():
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit

    # Lazy: nothing is drawn until a chunk is needed, and then only that chunk.
    X = da.random.RandomState(0).standard_normal((n_rows, n_features),
                                                 chunks=(chunk_rows, n_features))
    params = dict(n_components=2, hidden_layer_sizes=(16,), batch_size=1000, random_state=0,
                  device="cpu")
    # Warm up torch (kernels, allocator, Adam) on a small array, so that the baseline
    # holds everything but the data.
    VAETransformer(**params).partial_fit(np.zeros((2 * chunk_rows // 10, n_features)) + 1)
    before = peak()
    # The synchronous scheduler loads one chunk at a time, just before partial_fit needs
    # it; the threaded one draws chunks ahead of the sequential chain of fits (measured:
    # nearly the whole array).
    with dask.config.set(scheduler="synchronous"):
        model = Incremental(VAETransformer(**params), random_state=0).fit(X)
        after = peak()
        lazy = model.transform(X[: 2 * chunk_rows])  # a dask array, encoded per chunk
        Z_lazy = lazy.compute()

    sample = X[: 2 * chunk_rows].compute()
    Z = model.transform(sample)
    print(json.dumps({
        "nbytes": X.nbytes, "n_chunks": X.numblocks[0], "before": before, "after": after,
        "n_iter": model.estimator_.n_iter_, "n_losses": len(model.estimator_.loss_curve_),
        "z_shape": list(Z.shape), "z_finite": bool(np.isfinite(Z).all()),
        "z_type": type(Z).__name__, "lazy_type": type(lazy).__name__,
        "lazy_equal": bool(np.array_equal(Z_lazy, Z)),
    }))
""")


def test_incremental_fit_streams_chunks_under_a_memory_cap(tmp_path):
    n_rows, n_features, chunk_rows = 400_000, 64, 20_000  # 205 MB of float64, 20 chunks
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-W", "error::FutureWarning",
         "-c", INCREMENTAL_SCRIPT, str(n_rows), str(n_features), str(chunk_rows)],
        check=False, cwd=tmp_path, env=env, text=True, capture_output=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-5000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])

    assert result["nbytes"] == n_rows * n_features * 8
    # The fit streamed the array: its peak memory grew by far less than the array's size
    # (one chunk is 10 MB; the cap leaves room for a few chunks and their float32 copies).
    cap = result["nbytes"] // 4
    growth = result["after"] - result["before"]
    assert growth < cap, f"peak RSS grew by {growth / 2**20:.0f} MiB, cap {cap / 2**20:.0f}"

    # One partial_fit (one epoch) per chunk, each chunk seen once.
    assert result["n_chunks"] == n_rows // chunk_rows
    assert result["n_iter"] == result["n_chunks"] == result["n_losses"]
    # The fitted model encodes a NumPy sample as a NumPy array, and a dask array lazily
    # into the same codes.
    assert result["z_type"] == "ndarray"
    assert result["z_shape"] == [2 * chunk_rows, 2] and result["z_finite"]
    assert result["lazy_type"] == "Array" and result["lazy_equal"]
