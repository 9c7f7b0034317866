"""A stand-in for ``serve`` that follows its wire contract (docs/serve.md)
over pre-made ``pairstream`` output, so that the client's logic (endpoints,
worker split, resume, metadata, completeness, errors) is tested without the
Go server. The end-to-end tests against the real ``serve`` live in
test_serve_e2e.py.

    python fake_serve.py SPEC.json PORT

SPEC: {"streams": {"<rank>": "<pairstream IPC file of that rank>"},
       "world_size": W, "dataset": "fmnist", "token": null,
       "die_after": null (os._exit after this many batches of one DoGet),
       "stall_after": null (stop sending, keep the call open),
       "no_marker": false (omit the end-of-stream summary),
       "no_info_metadata": false (no FlightInfo.app_metadata, as an older serve)}
"""

from __future__ import annotations

import json
import os
import sys
import time
import zlib

import numpy as np
import pyarrow as pa
import pyarrow.flight as fl


def load(path):
    """The rank's batches as (epoch, index, batch), and batches per epoch."""
    with pa.OSFile(path, "rb") as f:
        batches = list(pa.ipc.open_stream(f))
    out, counts = [], {}
    for rb in batches:
        e = int(rb.column("epoch")[0].as_py())
        i = counts.get(e, 0)
        counts[e] = i + 1
        out.append((e, i, rb))
    per = max(counts.values())
    return out, per


class Auth(fl.ServerMiddlewareFactory):
    def __init__(self, token):
        self.token = token

    def start_call(self, info, headers):
        got = headers.get("authorization", [])
        if self.token and f"Bearer {self.token}" not in got:
            raise fl.FlightUnauthenticatedError("missing or wrong bearer token")
        return None


class Fake(fl.FlightServerBase):
    def __init__(self, spec, port):
        # Everything is loaded before the port opens (the tests wait for it).
        self.spec = spec
        self.streams = {int(r): load(p) for r, p in spec["streams"].items()}
        self.world = int(spec.get("world_size", len(self.streams)))
        mw = {"auth": Auth(spec["token"])} if spec.get("token") else {}
        super().__init__(f"grpc://127.0.0.1:{port}", middleware=mw)

    def get_flight_info(self, context, descriptor):
        try:
            d = json.loads(descriptor.command)
        except ValueError as e:
            raise pa.ArrowInvalid(f"serve: bad descriptor: {e}")
        if d.get("version") != 1:
            raise pa.ArrowInvalid(f"serve: bad descriptor: version {d.get('version')}")
        if d.get("dataset") != self.spec.get("dataset", "fmnist"):
            raise pa.ArrowInvalid(f"serve: bad descriptor: unknown dataset {d.get('dataset')!r}")
        cfg = d["config"]
        if int(cfg.get("world_size", 1)) != self.world:
            raise pa.ArrowInvalid(f"serve: bad descriptor: world_size {cfg.get('world_size', 1)}, this fake serves {self.world}")
        W = int(d.get("worker_count", 1))
        start = d.get("start") or {"epoch": cfg.get("epoch", 0), "batch": 0}
        per = self.streams[0][1]
        # serve's normalisation: (E, N) is (E + 1, 0); a batch past N is refused.
        if start["batch"] > per:
            raise pa.ArrowInvalid(f"serve: bad descriptor: start batch past the end of its epoch: "
                                  f"batch {start['batch']} of epoch {start['epoch']}, whose batches are 0..{per - 1}")
        if start["batch"] == per:
            start = {"epoch": start["epoch"] + 1, "batch": 0}
        schema = self.streams[0][0][0][2].schema
        eps = []
        for r in range(self.world):
            for w in range(W):
                t = json.dumps({"rank": r, "worker": w, "of": W, "start": start,
                                "last_epoch": cfg.get("epoch", 0) + cfg.get("epochs", 1) - 1}).encode()
                eps.append(fl.FlightEndpoint(t, []))
        meta = {"schema_version": "2", "ranks": self.world, "worker_count": W, "batches_per_epoch": per,
                "start": start}
        if self.spec.get("no_info_metadata"):
            meta = None  # an older serve: no FlightInfo.app_metadata
        return fl.FlightInfo(schema, descriptor, eps, -1, -1, app_metadata=json.dumps(meta).encode() if meta else b"")

    def do_get(self, context, ticket):
        t = json.loads(ticket.ticket)
        batches, per = self.streams[t["rank"]]
        w, W = t["worker"], t["of"]
        se, sb = t["start"]["epoch"], t["start"]["batch"]
        # serve's split: worker w of W gets the batches b >= start with b % W == w, per epoch.
        chosen = [(e, i, rb) for e, i, rb in batches
                  if i % W == w and (e, i) >= (se, sb) and e <= t["last_epoch"]]
        schema = batches[0][2].schema
        spec = self.spec

        def gen():
            crc, rows = 0, 0
            for n, (e, i, rb) in enumerate(chosen):
                if spec.get("die_after") is not None and n == spec["die_after"]:
                    os._exit(3)
                if spec.get("stall_after") is not None and n == spec["stall_after"]:
                    time.sleep(3600)
                rows += rb.num_rows
                for name in ("sample_id", "epoch"):
                    a = rb.column(name).to_numpy()
                    crc = zlib.crc32(np.ascontiguousarray(a).view(np.uint8), crc)
                md = {"pairflow.epoch": str(e), "pairflow.batch": str(i)}
                if n == len(chosen) - 1 and not spec.get("no_marker"):
                    md.update({"pairflow.stream.batches": str(n + 1), "pairflow.stream.rows": str(rows),
                               "pairflow.stream.crc32": f"{crc:08x}"})
                yield rb, pa.py_buffer(json.dumps(md).encode())

        return fl.GeneratorStream(schema, gen())


if __name__ == "__main__":
    spec = json.load(open(sys.argv[1]))
    Fake(spec, int(sys.argv[2])).serve()
