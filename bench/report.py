"""Writing the benchmark report: bench.md (tables), bench.json (every number) and bench.png (plots)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_report(report: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    slim = json.loads(json.dumps(report, default=str))
    runs = [*slim["serving"].values(), *(run for r in slim.get("rounds", []) for run in r["serving"].values())]
    for run in runs:  # keep the JSON readable: percentiles stay, raw latencies go
        if isinstance(run.get("latencies_ms"), list):
            run["latencies_ms"] = f"{len(run['latencies_ms'])} values"
    (out_dir / "bench.json").write_text(json.dumps(slim, indent=1) + "\n")
    _plot(report, out_dir / "bench.png")
    (out_dir / "bench.md").write_text(markdown(report))
    return out_dir / "bench.md"


def headline_table(report: dict[str, Any]) -> str:
    rounds = len(report.get("rounds", []))
    lines = [
        f"| target | measured | spread over {rounds} rounds (each round's value) | bound | met |",
        "|---|---|---|---|---|",
    ]
    for t in report["targets"]:
        runs = t.get("runs") or []
        spread = (
            f"{min(runs):.2f}-{max(runs):.2f} ({', '.join(f'{v:.2f}' for v in runs)})"
            if runs
            else "the last round's runs"
        )
        lines.append(
            f"| {t['target']} | {t['value']:.2f} | {spread} | {t['op']} {t['bound']:g} | "
            f"{'yes' if t['met'] else '**NO**'} |"
        )
    return "\n".join(lines)


def rounds_table(report: dict[str, Any]) -> list[str]:
    """Each round's builds, floors and ratio runs, so a reader sees what moves between rounds."""
    from movierec.bench.run import floor_for

    rows = [
        "| round | cold build s | reindex s | fp32 forward ms | 1-client p50 / p99 ms | batched fp32 prompts/s "
        "| 64 clients req/s |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(report.get("rounds", []), 1):
        single, batch = floor_for(r, "single"), floor_for(r, "short64")
        s = r["serving"]
        rows.append(
            f"| {i} | {r['indexing']['cold_build_s']:.1f} | {r['indexing']['reindex_s']:.1f} | "
            f"{single['single_ms']:.2f} | {s['single']['p50']:.2f} / {s['single']['p99']:.2f} | "
            f"{batch['batch64_per_s']:.0f} | {s['short64']['throughput']:.0f} |"
        )
    return rows


def ran(report: dict[str, Any], key: str, default: str) -> str:
    """The backend the stage `key` of report["backends"] actually ran (`default` for an older report)."""
    return next((b["ran"] for b in report.get("backends") or [] if b.get("key") == key), default)


def hardware_section(report: dict[str, Any]) -> list[str]:
    """The CPU, the flags that choose encoder backends, and what each stage asked for and ran."""
    m = report["machine"]
    cpu = m.get("cpu")
    if not cpu:
        return []
    flags = " ".join(cpu["flags"]) or "none of the deciding flags"
    off = f"; turned off by `cpu_flags_off`: {' '.join(cpu['flags_off'])}" if cpu.get("flags_off") else ""
    out = [
        "## Hardware and encoder backends",
        "",
        f"CPU: {cpu['model']}, {m['cpus']} usable cores; the flags that choose backends (from "
        f"{cpu.get('source', '/proc/cpuinfo')}): {flags}{off}. Native bf16 (AVX512-BF16 or AMX): "
        f"**{'yes' if cpu['native_bf16'] else 'no'}**"
        + ("" if cpu["native_bf16"] else ", so a `torch-bf16` asked for runs as fp32 `torch`")
        + f". PyTorch {m.get('torch', '?')}, ONNX Runtime {m.get('onnxruntime', '?')}.",
        "",
    ]
    if report.get("backends"):
        out += [
            "| stage | backend asked (settings) | backend that ran |",
            "|---|---|---|",
            *[f"| {b['stage']} | `{b['asked']}` | `{b['ran']}` |" for b in report["backends"]],
            "",
        ]
    return out


def _row(name: str, run: dict[str, Any]) -> str:
    errors = sum(run["errors"].values())
    return (
        f"| {name} | {run['clients']} | {run['throughput']:.0f} | {run['p50']:.1f} | {run['p90']:.1f} | "
        f"{run['p99']:.1f} | {run['requests']} | {errors} |"
    )


def markdown(report: dict[str, Any]) -> str:
    fb, fm, fa = report["floors_before"], report["floors_between"], report["floors_after"]
    s, idx, leak = report["serving"], report["indexing"], report["leak"]
    st, th = report["stages"], report["threads_ablation"]
    settings = report["settings"]
    out = ["# Benchmark", ""]
    if report.get("smoke"):
        out += [
            "**Smoke run** (a few seconds per step, small data): these numbers only show that every step works.",
            "",
        ]
    out += [
        f"Written by `make bench` (`movierec-bench`) on {report['started']}, data `{report['data_dir']}` "
        f"({idx['movies']} movies, {idx['users']} users, {idx['ratings']} ratings); the whole run took "
        f"{report['bench_seconds']:.0f} s on {report['machine']['cpus']} CPUs ({report['machine']['platform']}).",
        "",
        "Ratios are the headline: each compares the server with the bare encoder measured in the same run, "
        "which removes the machine's overall speed but not its instruction sets: the floor is an fp32 PyTorch "
        "forward, the server runs its own backend, and the two gain differently from AVX512, VNNI or bf16 "
        "(the hardware section says what this machine has and which backend each stage ran). A VM's speed also "
        "drifts (the floors below differ by up to a fifth within one run), so each serving run is compared "
        "with the mean of the floors measured right before and right after it: the single-client run with the "
        "first two, the 64-client run with the last two. The absolute bounds (the cold build's seconds, the "
        "understanding stage's and the learned ranker's milliseconds) hold for this machine only.",
        "",
        *hardware_section(report),
        "## Targets",
        "",
        "A target measured in every round (the serving ratios against their own floors, the builds) is judged "
        "on the median of the rounds; the spread column shows each round's value. The other tables and the "
        "plots show the last round.",
        "",
        headline_table(report),
        "",
        "![latency, throughput and memory](bench.png)",
        "",
        "### The rounds",
        "",
        *rounds_table(report),
        "",
        *_unmet(report),
        "## Floors (the encoder alone, in-process, same settings as the server)",
        "",
        "| | before the 1-client run | between | after the 64-client run |",
        "|---|---|---|---|",
        f"| one ~10-token prompt, median ms | {fb['single_ms']:.2f} | {fm['single_ms']:.2f} | {fa['single_ms']:.2f} |",
        f"| one ~10-token prompt, p99 ms | {fb['single_p99_ms']:.2f} | {fm['single_p99_ms']:.2f} | "
        f"{fa['single_p99_ms']:.2f} |",
        f"| batch of 64, prompts/s | {fb['batch64_per_s']:.0f} | {fm['batch64_per_s']:.0f} | "
        f"{fa['batch64_per_s']:.0f} |",
        "",
        "## Serving (`movierec-serve` over loopback gRPC, load from a separate process)",
        "",
        "| run | clients | requests/s | p50 ms | p90 ms | p99 ms | requests | errors |",
        "|---|---|---|---|---|---|---|---|",
        _row("one known user, ~10-token prompts", s["single"]),
        *([_row("a group of 5 random users, same prompts", s["group5"])] if "group5" in s else []),
        _row("random known users, ~10-token prompts", s["short64"]),
        _row("random known users, 3-60 word prompts", s["mixed64"]),
        *([_row("random known users, no prompt (the learned ranker)", s["taste64"])] if "taste64" in s else []),
        _row("**naive peer**, ~10-token prompts", s["naive64"]),
        "",
        "The naive peer (`movierec.bench.naive`) serves the same model and FAISS indexes with one encoder "
        "forward per request in the gRPC worker threads and the original design's ranking; it is the "
        "design a user would write first.",
        "",
        f"The server's encoder: `{ran(report, 'prompts', settings.get('encoder_backend', 'torch'))}`; the "
        f"indexer's (the cold builds): `{ran(report, 'catalogue', settings.get('index_encoder_backend', '?'))}`; "
        "the floors are fp32 PyTorch forwards in every run. The prompt cache is off for the runs above (the "
        "generated prompts repeat, and a floor embeds every prompt).",
        "",
        *_http_edge(report),
        *_prompt_cache(report),
        "## Where the time goes (in-process, one batch)",
        "",
        "| batch | encoder ms | ranking ms | ranking share |",
        "|---|---|---|---|",
    ]
    for name, row in st.items():
        total = row["encode_ms"] + row["rank_ms"]
        out.append(
            f"| {name.removeprefix('batch')} | {row['encode_ms']:.2f} | {row['rank_ms']:.2f} | "
            f"{row['rank_ms'] / total:.0%} |"
        )
    if "understanding" in report:
        u = report["understanding"]
        out += [
            "",
            f"The understanding stage (`Recommender.understand`: prompt -> structured query, run in the "
            f"request's own thread before batching), over {u['requests']} benchmark prompts and everyday "
            f"constraint requests: p50 {u['p50_ms']:.3f} ms, p99 {u['p99_ms']:.3f} ms per request.",
        ]
    learned = report.get("learned") or {}
    if learned.get("serving"):
        ls, tr = learned["serving"], learned.get("training", {})
        out += [
            "",
            "## The learned ranker",
            "",
            f"Combine's second phase for {ls['requests']} prompt-less requests of known users (pools of "
            f"~{ls['pool_width']} candidates; the weighted sum's best {ls['shortlist']} of each re-scored), "
            f"one core (the ranking's BLAS is held to one thread, `movierec.runtime`), medians over "
            f"{ls['repeats']} batches:",
            "",
            "| step | ms |",
            "|---|---|",
            f"| the MLP forward over the 64 shortlists ({ls['requests'] * ls['shortlist']} rows; the target) | "
            f"{ls['forward_ms']:.2f} (p90 {ls['forward_p90_ms']:.2f}) |",
            f"| the whole second phase: shortlist, features, forward, each result's parts | "
            f"{ls['second_phase_ms']:.2f} (p90 {ls['second_phase_p90_ms']:.2f}) |",
            f"| the whole ranking of the batch, with the learned ranker | {ls['rank_ms']:.1f} |",
            f"| what the learned ranker adds to it (paired with the weighted sum alone, alternating) | "
            f"{ls['added_ms']:+.2f} (quartiles {ls['added_quartiles_ms'][0]:+.2f}, "
            f"{ls['added_quartiles_ms'][1]:+.2f}) |",
            "",
            "The phase replaces the weighted sum's own explain step for those requests, so what it adds "
            "to the ranking is less than its own time. Scoring the whole pools instead of a shortlist "
            f"would make the forward ~{ls['pool_width'] / ls['shortlist']:.0f}x larger, for +0.0008 taste "
            "NDCG@10 in `make eval`'s measurement (README).",
            "",
            f"Training (inside the cold build): {tr.get('seconds', float('nan'))} s"
            + (
                f", on {tr['training'].get('users with a later liked movie in their pool')} users"
                if isinstance(tr.get("training"), dict)
                else ""
            )
            + "; the reindex after new ratings carried the model over"
            f"{' (from ' + tr['carried over from'] + ')' if tr.get('carried over from') else ''} "
            "(`learned_retrain_share`).",
        ]
    if report.get("overload"):
        out += [
            "",
            "## Overload and load shedding",
            "",
            "Open loop: requests sent on schedule at a multiple of the 64-client throughput above, whatever "
            "the server answers, with a health check every 100 ms beside them; one server per queue bound "
            "(`max_queued_requests`). The load generator shares the machine's cores with the server, so at "
            "high multiples the offered rate it reaches is also shown.",
            "",
            "| queue bound | offered x | offered/s | answered/s | accepted p50 / p99 ms | shed share | "
            "shed p99 ms | health p99 ms | other errors |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for row in report["overload"]:
            total = sum(row["by_code"].values()) or 1
            shed = row["by_code"].get("RESOURCE_EXHAUSTED", 0) / total
            errors = sum(row["errors"].values()) + sum(row["health_failures"].values())
            out.append(
                f"| {row['max_queued_requests']} | {row['multiple']:g} | {row['offered_per_s']:.0f} | "
                f"{row['throughput']:.0f} | {row['p50']:.0f} / {row['p99']:.0f} | {shed:.0%} | "
                f"{row['shed']['p99']:.0f} | {row['health']['p99']:.0f} | {errors} |"
            )
        ceiling = report.get("refusal_ceiling")
        if ceiling:
            out += [
                "",
                f"Refusal ceiling: a server that admits only two Recommend calls at a time, offered "
                f"{ceiling['offered_per_s']:.0f} calls/s, refused {ceiling['refused_per_s']:.0f} calls/s "
                f"(shed p99 {ceiling['shed']['p99']:.0f} ms); "
                f"{sum(ceiling['errors'].values())} calls got other statuses "
                f"({', '.join(f'{k} {v}' for k, v in ceiling['errors'].items()) or 'none'}). "
                "This is what refusing costs in Python's gRPC on this machine, whatever the queue bound.",
            ]
    out += [
        "",
        "## Kept optimisations and their measured gain",
        "",
        "| optimisation | with | without |",
        "|---|---|---|",
        f"| dynamic batching (64 clients, requests/s; without = the naive peer) | {s['short64']['throughput']:.0f} "
        f"| {s['naive64']['throughput']:.0f} |",
        f"| thread settings (`movierec.runtime`): `recommend_batch`, 1 request, ms | {th['tuned']['batch1_ms']:.2f} "
        f"| {th['untuned']['batch1_ms']:.2f} |",
        f"| thread settings: `recommend_batch`, 64 requests, ms | {th['tuned']['batch64_ms']:.1f} "
        f"| {th['untuned']['batch64_ms']:.1f} |",
        "",
        "## Indexing",
        "",
        "| step | seconds |",
        "|---|---|",
        f"| cold build (`movierec-index`, empty embedding cache; catalogue embedded with "
        f"`{ran(report, 'catalogue', '?')}`) | {idx['cold_build_s']:.1f} |",
        f"| reindex after {idx['ratings_added']:,} new ratings (cache warm) | {idx['reindex_s']:.1f} |",
        "",
        "## Memory",
        "",
        f"Server RSS: {report['server_rss_idle_mb']:.0f} MB idle with the index loaded, "
        f"{report['server_rss_loaded_mb']:.0f} MB after the load runs. Leak check over the "
        f"{(report['rss_samples'][-1][0] if report['rss_samples'] else 0):.0f} s of 64-client mixed-length load "
        f"({leak['samples']} samples): median of the first minute after warm-up "
        f"{leak.get('first_mb', float('nan')):.0f} MB, of the last minute {leak.get('last_mb', float('nan')):.0f} MB, "
        f"growth {leak['growth_mb']:+.1f} MB (allowed {leak.get('allowed_mb', float('nan')):.0f} MB), "
        f"trend {leak['slope_mb_per_min']:+.2f} MB/min.",
        "",
        "## Settings",
        "",
        ", ".join(f"{k}={v}" for k, v in report["settings"].items()),
        "",
    ]
    return "\n".join(out)


def _http_edge(report: dict[str, Any]) -> list[str]:
    """The HTTP/JSON API against gRPC: the same requests, one client, each over both edges in turn."""
    run = report["serving"].get("http1")
    if run is None:
        return []
    http = run["http"]
    return [
        "### The HTTP/JSON edge",
        "",
        f"One client sent each request (one known user, ~10-token prompts) over gRPC and over the same server's "
        f"HTTP/JSON API (`POST /v1/recommend`) in turn, the order alternating, {run['requests']} of each:",
        "",
        "| edge | p50 ms | p90 ms | p99 ms |",
        "|---|---|---|---|",
        f"| gRPC | {run['p50']:.2f} | {run['p90']:.2f} | {run['p99']:.2f} |",
        f"| HTTP/JSON | {http['p50']:.2f} | {http['p90']:.2f} | {http['p99']:.2f} |",
        "",
        f"HTTP adds {run['http_overhead_p50_ms']:.2f} ms at the median: reading and checking the JSON against "
        "the proto's models, the hop from uvicorn's event loop to a worker thread, and writing the JSON answer; "
        "the servicer, the batcher and the ranking are the same objects.",
        "",
    ]


def _prompt_cache(report: dict[str, Any]) -> list[str]:
    cache = report.get("prompt_cache")
    if not cache:
        return []
    off = report["serving"]
    return [
        "## The prompt cache (`prompt_cache_mb`)",
        "",
        f"The same server with its prompt cache on ({report['settings'].get('prompt_cache_mb', '?')} MB), on "
        f"a workload with repeats: 2,000 distinct everyday requests drawn with Zipf weights (exponent "
        f"{cache['zipf']:g}), the shape of query popularity in search logs; the share of requests whose text "
        "came before is the most a cache can answer.",
        "",
        "| run | repeat share | requests/s | p50 ms | p99 ms | without the cache (uniform prompts): req/s, p50 |",
        "|---|---|---|---|---|---|",
        *[
            f"| {name} | {cache[key]['repeat_share']:.0%} | {cache[key]['throughput']:.1f} | "
            f"{cache[key]['p50']:.2f} | {cache[key]['p99']:.2f} | {off[key]['throughput']:.1f}, "
            f"{off[key]['p50']:.2f} |"
            for key, name in (("single", "one known user"), ("short64", "64 clients"))
        ],
        "",
    ]


def _unmet(report: dict[str, Any]) -> list[str]:
    """For each target not met: the measured reason and what it would take (from this run's numbers)."""
    missed = {t["target"] for t in report["targets"] if not t["met"]}
    if not missed:
        return []
    from movierec.bench.run import floor_for

    s, st = report["serving"], report["stages"]
    single_floor, batch_floor = floor_for(report, "single"), floor_for(report, "short64")
    forward = single_floor["single_ms"]
    batched = batch_floor["batch64_per_s"]
    out = [
        "## Targets not met: why, and what it would take",
        "",
        "(Figures from the last round where a target is judged on the median of the rounds.)",
        "",
    ]
    backend = report["settings"].get("encoder_backend", "torch")
    if missed & {"single-client p50 / fp32 encoder forward", "single-client p99 / fp32 encoder forward"}:
        rank = st["batch1"]["rank_ms"]
        encode = st["batch1"]["encode_ms"]
        out += [
            f"- **One client.** The median request took {s['single']['p50']:.1f} ms (p99 {s['single']['p99']:.1f}) "
            f"against one fp32 forward's {forward:.1f} ms (p99 {single_floor['single_p99_ms']:.1f}). In-process, "
            f"the server's encoder (`{backend}`) took {encode:.1f} ms for one prompt and the ranking {rank:.1f} "
            f"ms; the rest ({max(s['single']['p50'] - encode - rank, 0):.1f} ms) is the gRPC round trip and "
            "the hand-offs between the gRPC thread and the batching lane. Under the fp32 PyTorch encoder the "
            "whole request cannot cost less than its own forward: it takes an encoder that costs a fraction "
            'of it (`encoder_backend = "onnx"` or `"onnx-int8"`).'
        ]
    if "64-client throughput / batched fp32 encoder" in missed:
        cores = report["machine"]["cpus"] or 1
        encoder_cpu = cores / batched * 1000  # ms of CPU per fp32 prompt with every core busy
        total_cpu = cores / s["short64"]["throughput"] * 1000
        rank_cpu = st["batch64"]["rank_ms"] / 64
        encode_cpu = st["batch64"]["encode_ms"] / 64
        lower, upper = total_cpu - cores * encode_cpu - rank_cpu, total_cpu - encode_cpu - rank_cpu
        out += [
            f"- **64 clients.** {s['short64']['throughput']:.0f} requests/s against {batched:.0f} prompts/s for "
            f"the batched fp32 encoder: {total_cpu:.1f} ms of CPU per request on {cores} cores, where 1.5x the "
            f"encoder allows {encoder_cpu / 1.5:.1f} ms. In a batch of 64 in-process, the server's encoder "
            f"(`{backend}`) took {encode_cpu:.2f} ms per request of wall time on every core (so up to "
            f"{cores * encode_cpu:.2f} ms of CPU) and the ranking {rank_cpu:.2f} ms on one; gRPC, protobuf and "
            f"the thread hand-offs in Python take the remaining {max(lower, 0):.1f}-{max(upper, 0):.1f} ms. "
            "It would take a cheaper encoder forward (batched int8 is not used: it makes a prompt's vector "
            "depend on its batch), ranking in compiled code, and a serving edge that costs less per request "
            "than Python's gRPC."
        ]
    if "cold build of the data (s)" in missed:
        idx = report["indexing"]
        cold = next(t for t in report["targets"] if t["target"] == "cold build of the data (s)")["value"]
        learned = (report.get("learned") or {}).get("training", {}).get("seconds")
        index_backend = ran(report, "catalogue", report["settings"].get("index_encoder_backend", backend))
        out += [
            f"- **Cold build.** {cold:.0f} s (median of the rounds) with the `{index_backend}` encoder. Most of "
            f"it is the encoder over {idx['movies']:,} movie texts of up to 256 tokens; an ONNX backend also "
            "exports (and quantises) the model once into the new index's cache (about 6 s), and the learned "
            "ranker trains"
            + (f" ({learned} s in the last round)." if learned else ".")
            + (
                " This CPU has no native bf16, so the `torch-bf16` asked for ran as fp32 `torch`, slower than "
                "the bf16 build (README, Hardware, has both measured on one machine)."
                if index_backend == "torch" and report["settings"].get("index_encoder_backend") == "torch-bf16"
                else ""
            )
            + " It would take a cheaper forward on long texts (int8 is faster but not within 1% on every "
            "evaluation task, reports/eval-int8-vs-torch.md) or more cores (the embedding step runs on Ray, "
            "`movierec-index --ray`)."
        ]
    if "RSS growth over the load run (MB)" in missed:
        leak = report["leak"]
        out += [
            f"- **Memory.** The last minute's median RSS was {leak['growth_mb']:+.0f} MB from the first's, but the "
            f"server's RSS after the runs ({report['server_rss_loaded_mb']:.0f} MB) was below both: the working "
            "set moves with the mix of prompt lengths in the batches (buffers sized by the longest prompt), "
            "and the memory comes back when the load ends, which a leak would not. A decisive check would take a "
            "longer run or a fixed prompt mix."
        ]
    overload_missed = {name for name in missed if name.startswith("overload x")}
    if overload_missed:
        out += _why_overload(report)
    for name in sorted(
        missed
        - overload_missed
        - {
            "single-client p50 / fp32 encoder forward",
            "single-client p99 / fp32 encoder forward",
            "64-client throughput / batched fp32 encoder",
            "cold build of the data (s)",
            "RSS growth over the load run (MB)",
        }
    ):
        out += [f"- **{name}**: not met in this run; see the tables below."]
    return out + [""]


def _why_overload(report: dict[str, Any]) -> list[str]:
    """The overload targets missed, explained from this run's own rows."""
    from movierec.settings import Settings

    s, queue = report["serving"], Settings().server.max_queued_requests
    rows = {row["multiple"]: row for row in report["overload"] if row["max_queued_requests"] == queue}
    if not rows:
        return []
    low, high = rows[min(rows)], rows[max(rows)]
    capacity = s["short64"]["throughput"]
    cancelled = high["errors"].get("CANCELLED", 0)
    ceiling = report.get("refusal_ceiling") or {}
    refused = ceiling.get("refused_per_s", float("nan"))
    return [
        f"- **Overload (default queue bound {queue}).** Refusing a call is not free in Python's gRPC: a "
        f"server that admits only two calls refused at most {refused:.0f} calls/s (the refusal ceiling below), "
        f"while {max(rows):g}x the capacity is {max(rows) * capacity:.0f} calls/s. Beyond the ceiling the "
        "process falls behind its own socket: the calls wait in gRPC's queues before the poller thread even "
        f"sees them, so shed answers take seconds too (p99 {high['shed']['p99']:.0f} ms at {max(rows):g}x), "
        f"{cancelled} calls were answered CANCELLED without reaching the server's Python code (no access-log "
        "line), and the admitted calls wait behind them. Below the ceiling the refusals still take the GIL "
        "from the batching lanes between the encoder's native operations: at "
        f"{min(rows):g}x the server answered {low['throughput']:.0f} requests/s against {capacity:.0f}/s at "
        "capacity. The admitted calls' p99 is what is admitted (the queue bound plus the lanes' batches) "
        "divided by that throughput, plus the wait before admission. And even at exactly 1x (64 clients, "
        f"closed loop) the p99 is {s['short64']['p99'] / s['single']['p99']:.0f}x the single-client p99, "
        "because a full batch takes that long: 3x the *unloaded* p99 cannot hold for a batching server that is "
        "full, so the targets also compare with the p99 at capacity. Tried and not kept: gRPC's own "
        "`maximum_concurrent_rpcs` refuses on the poller thread without a worker (about twice the ceiling in a "
        "manual run) but refuses health checks with the rest; a shorter GIL switch interval "
        "(`sys.setswitchinterval`, 0.5 ms) changed nothing measurable. What it would take: refusing excess "
        "calls outside Python (a proxy in front with a concurrency limit, e.g. Envoy's adaptive concurrency, "
        "or a compiled gRPC edge), and a load generator on another machine so that 10x can be offered at all."
    ]


def _plot(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    s = report["serving"]
    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    ax = axes[0][0]
    from movierec.bench.run import floor_for

    single = np.array(s["single"]["latencies_ms"])
    floor = floor_for(report, "single")["single_ms"]
    if len(single):
        ax.hist(single, bins=np.linspace(0, max(np.percentile(single, 99.5), 2.2 * floor), 60), color="tab:blue")
    for ratio, style in ((1.0, "-"), (1.25, "--"), (2.0, ":")):
        ax.axvline(floor * ratio, color="black", linestyle=style, label=f"{ratio:g} x encoder forward")
    ax.set(title="one client: Recommend latency", xlabel="ms", ylabel="requests")
    ax.legend()
    ax = axes[0][1]
    for name, label in (("short64", "ours, ~10-token"), ("mixed64", "ours, mixed lengths"), ("naive64", "naive peer")):
        lat = np.array(s[name]["latencies_ms"])
        if len(lat):
            ax.hist(lat, bins=80, histtype="step", linewidth=1.5, label=label, density=True)
    ax.set(title="64 clients: latency", xlabel="ms", ylabel="density")
    ax.legend()
    ax = axes[1][0]
    for name, label in (("short64", "ours, ~10-token"), ("mixed64", "ours, mixed lengths"), ("naive64", "naive peer")):
        ax.plot(s[name]["per_second"][:-1], label=label)
    batch = floor_for(report, "short64")["batch64_per_s"]
    ax.axhline(batch, color="black", linestyle="--", label="batched encoder (batch 64)")
    ax.axhline(0.8 * batch, color="gray", linestyle=":", label="0.8 x batched encoder")
    ax.set(title="64 clients: completed requests per second", xlabel="s", ylabel="requests/s")
    ax.legend()
    ax = axes[1][1]
    rss = report["rss_samples"]
    if rss:
        ax.plot([t for t, _ in rss], [r for _, r in rss])
    ax.set(title="server RSS during the 5-minute 64-client mixed-length run", xlabel="s", ylabel="MB")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
