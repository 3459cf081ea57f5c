"""Explain: each request's best movies, with the parts of their scores that the client sees."""

from __future__ import annotations

import numpy as np

from movierec.batch import Batch, Ranked, Scored
from movierec.topk import top_k


def explain(
    batch: Batch,
    scored: Scored,
    ready: dict[int, Ranked] | None = None,
    skip: set[int] | None = None,
) -> list[Ranked]:
    """The top `limit` of each request by the weighted sum, best first, with every applicable signal's
    part (they sum to the score). `ready`: requests (by position) that an
    earlier phase has already ranked and explained (the learned ranker's, a group's); `skip`: positions
    with no list of their own (a group's members), given an empty one."""
    out = []
    for i, r in enumerate(batch.requests):
        if ready and i in ready:
            out.append(ready[i])
            continue
        if skip and i in skip:
            out.append(Ranked(rows=np.zeros(0, np.int64), scores=np.zeros(0, np.float32), signals={}))
            continue
        top = top_k(scored.total[i], min(r.limit, int(batch.valid[i].sum())))
        out.append(
            Ranked(
                rows=batch.candidates[i, top],
                scores=scored.total[i, top].astype(np.float32),
                signals={
                    name: part[i, top].astype(np.float32)
                    for name, part in scored.parts.items()
                    if scored.applies[name][i]
                },
            )
        )
    return out
