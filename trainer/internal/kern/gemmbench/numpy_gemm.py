#!/usr/bin/python3
"""numpy float32 matmul timing server for gemmbench.

gemmbench starts one of these per thread count (with OPENBLAS_NUM_THREADS set,
since OpenBLAS reads it at load time) and interleaves its own timings with
this process's, repeat by repeat, so that both see the same machine load.

Protocol: the first output line is JSON describing numpy and its BLAS
(threadpoolctl, when installed). Then, for each input line "M N K MIN_TIME",
it times C = A @ B (A M×K, B K×N, float32, row-major, untransposed) in a
loop lasting at least MIN_TIME seconds and prints one line: the GFLOP/s by
wall clock and by this process's CPU time (all its threads).
"""
import json, sys, time

import numpy as np


def main():
    info = {"numpy": np.__version__}
    try:
        import threadpoolctl
        info["blas"] = [dict(api=d.get("internal_api"), arch=d.get("architecture"), threads=d.get("num_threads"),
                             version=d.get("version")) for d in threadpoolctl.threadpool_info()]
    except Exception as e:
        info["blas"] = "threadpoolctl unavailable: %s" % e
    print(json.dumps(info), flush=True)
    rng = np.random.default_rng(0)
    cache = {}
    for line in sys.stdin:
        m, n, k, min_time = line.split()
        m, n, k, min_time = int(m), int(n), int(k), float(min_time)
        key = (m, n, k, min_time)
        if key not in cache:
            cache.clear()  # one shape at a time: the operands can be large
            A = rng.standard_normal((m, k), dtype=np.float32)
            B = rng.standard_normal((k, n), dtype=np.float32)
            C = np.empty((m, n), dtype=np.float32)
            np.matmul(A, B, out=C)  # warm-up
            t0 = time.perf_counter()
            np.matmul(A, B, out=C)
            iters = max(1, int(min_time / max(time.perf_counter() - t0, 1e-6)))
            cache[key] = (A, B, C, iters)
        A, B, C, iters = cache[key]
        t0, c0 = time.perf_counter(), time.process_time()
        for _ in range(iters):
            np.matmul(A, B, out=C)
        flop = 2.0 * m * n * k * iters
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(flop / wall / 1e9, flop / max(cpu, 1e-9) / 1e9, flush=True)


if __name__ == "__main__":
    main()
