"""The index manifest (`manifest.json` in each version folder): what a build was made from and with.

`Manifest.from_json` is the one place that reads the file's JSON and `Manifest.to_json` the one place
that writes it; the rest of the code reads typed fields. The file is a JSON object with sorted keys:

    format           FORMAT (a version of another format is refused)
    index_version    the version folder's name
    dimensions       the embedding width d
    counts           {"movies", "users", "ratings"}
    files            {data file name: sha256}
    search           {"movies", "users"}: how each FAISS index was built (movierec.vectorindex.IndexChoice)
    model, cpu       the encoder that embedded the catalogue, and the CPU that chose its backend
    built_at, builder, user_vectors, ease_lambda, ease_max_items, tail_neighbours, tail_shrink
    inputs           {"movies", "credits", "ratings", "links": {"path", "sha256", "report"}, "store": {...}}
    store_seq        the last ratings-store row the index contains
    ratings_filter   how the ratings were narrowed (the evaluation's training splits)
    learned          the learned ranker: its file and checksum, how it was trained, or why there is none

Only what loading and serving need is required (format, index_version, dimensions, counts.movies,
counts.users, files): the build's records are optional, since format-3 builds from before a record
existed lack it. A field that is present must have its type. Keys this code does not know are kept
(`extra`) and written back, so that a manifest from a newer build survives a round trip.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar, cast

from movierec.diagnostics import ArtifactError
from movierec.hardware import CpuInfo
from movierec.vectorindex import IndexChoice

FORMAT = 3
MANIFEST = "manifest.json"

_T = TypeVar("_T", int, float, str, bool)
_R = TypeVar("_R")


@dataclass(frozen=True)
class Counts:
    movies: int
    users: int
    ratings: int | None = None  # the ratings indexed (every indexer build records it)

    def to_dict(self) -> dict[str, Any]:
        return _present({"movies": self.movies, "users": self.users, "ratings": self.ratings})


@dataclass(frozen=True)
class ModelRecord:
    """The encoder that embedded the catalogue. `backend` is the one that ran, `backend_requested` the
    setting's (a "torch-bf16" asked for runs as "torch" on a CPU without native bf16); builds from
    before the backends were chosen per CPU have neither."""

    name: str
    path: str | None = None
    fingerprint: str | None = None
    backend: str | None = None
    backend_requested: str | None = None
    max_seq_length: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return _present(
            {
                "name": self.name,
                "path": self.path,
                "fingerprint": self.fingerprint,
                "backend": self.backend,
                "backend_requested": self.backend_requested,
                "max_seq_length": self.max_seq_length,
            }
        )


@dataclass(frozen=True)
class CpuRecord:
    """The CPU that chose the encoder backend, as movierec.hardware.CpuInfo.as_dict records it."""

    model: str
    flags: tuple[str, ...]
    flags_off: tuple[str, ...]
    native_bf16: bool
    source: str

    @classmethod
    def of(cls, cpu: CpuInfo) -> CpuRecord:
        # Through as_dict, which stays the one definition of which flags the record lists.
        return _cpu(_Object(cpu.as_dict(), "cpu"))

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "flags": list(self.flags),
            "flags_off": list(self.flags_off),
            "native_bf16": self.native_bf16,
            "source": self.source,
        }


@dataclass(frozen=True)
class BuilderRecord:
    movierec: str  # the package version that built the index
    pid: int

    def to_dict(self) -> dict[str, Any]:
        return {"movierec": self.movierec, "pid": self.pid}


@dataclass(frozen=True)
class InputReport:
    """What the loader made of one input file: rows read and used, and why the others were not."""

    path: str
    rows_read: int
    rows_used: int
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> rows left out
    warnings: dict[str, int] = field(default_factory=dict)  # reason -> rows used despite a problem

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "rows_read": self.rows_read,
            "rows_used": self.rows_used,
            "skipped": dict(self.skipped),
            "warnings": dict(self.warnings),
        }


@dataclass(frozen=True)
class InputFile:
    path: str
    sha256: str
    report: InputReport | None = None

    def to_dict(self) -> dict[str, Any]:
        return _present({"path": self.path, "sha256": self.sha256, "report": _dict(self.report)})


@dataclass(frozen=True)
class StoreInput:
    """The ratings store a build read: where (a URL without its password) and up to which row."""

    path: str
    seq: int
    rows: int | None = None
    not_in_catalogue: int | None = None
    replaced_by_a_later_rating: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return _present(
            {
                "path": self.path,
                "seq": self.seq,
                "rows": self.rows,
                "not in the catalogue": self.not_in_catalogue,
                "replaced by a later rating": self.replaced_by_a_later_rating,
            }
        )


@dataclass(frozen=True)
class Inputs:
    """The build's inputs: the data files by role ("movies", "credits", "ratings", "links") and the store.
    On disk they share one object, the store under "store"."""

    files: dict[str, InputFile] = field(default_factory=dict)
    store: StoreInput | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {role: f.to_dict() for role, f in self.files.items()}
        if self.store is not None:
            out["store"] = self.store.to_dict()
        return out


@dataclass(frozen=True)
class SearchRecord:
    """How each FAISS index was built; an IVF index's nprobe is restored from here on load."""

    movies: IndexChoice
    users: IndexChoice

    def to_dict(self) -> dict[str, Any]:
        return {"movies": self.movies.as_dict(), "users": self.users.as_dict()}


@dataclass(frozen=True)
class LearnedRecord:
    """The learned ranker's entry. With a model: its `file` in the version folder and `sha256`; then how
    it was trained (or `carried_over_from` the version whose model it is). Without one: `skipped`, why.

    `config` is what the training depended on (movierec.indexer.learn.training_config), compared as a
    whole to decide whether a model can be carried over, so it stays a JSON object. `training`: counts
    of the training lists by what they count; `curve`: per epoch, {"epoch", "train", "validation"}.
    """

    file: str | None = None
    sha256: str | None = None
    config: dict[str, Any] | None = None
    ratings: int | None = None  # the ratings of the index
    trained_on_ratings: int | None = None  # the ratings the model was trained on (fewer when carried over)
    training: dict[str, int] | None = None
    curve: tuple[dict[str, float], ...] | None = None
    seconds: float | None = None
    skipped: str | None = None
    carried_over_from: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys this code does not know, kept

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.extra,
            **_present(
                {
                    "file": self.file,
                    "sha256": self.sha256,
                    "config": self.config,
                    "ratings": self.ratings,
                    "trained on ratings": self.trained_on_ratings,
                    "training": self.training,
                    "curve": None if self.curve is None else list(self.curve),
                    "seconds": self.seconds,
                    "skipped": self.skipped,
                    "carried over from": self.carried_over_from,
                }
            ),
        }


@dataclass(frozen=True)
class Manifest:
    """One index version's manifest (see the module docstring). `files` and `search` are the writer's
    (movierec.artifact.write_artifact fills them in); `format` is always FORMAT."""

    format: ClassVar[int] = FORMAT

    index_version: str
    dimensions: int
    counts: Counts
    files: dict[str, str] = field(default_factory=dict)  # data file name -> sha256
    search: SearchRecord | None = None
    model: ModelRecord | None = None
    cpu: CpuRecord | None = None
    built_at: str | None = None  # ISO 8601, UTC
    builder: BuilderRecord | None = None
    user_vectors: str | None = None  # how the taste vectors were computed, in words
    ease_lambda: float | None = None
    ease_max_items: int | None = None
    tail_neighbours: int | None = None
    tail_shrink: float | None = None
    inputs: Inputs | None = None
    store_seq: int = 0
    ratings_filter: str | None = None
    learned: LearnedRecord | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # keys this code does not know, kept

    def to_json(self) -> str:
        """The file's text: sorted keys, two-space indents, a final newline."""
        record = {
            **self.extra,
            **_present(
                {
                    "format": FORMAT,
                    "index_version": self.index_version,
                    "dimensions": self.dimensions,
                    "counts": self.counts.to_dict(),
                    "files": dict(self.files),
                    "search": _dict(self.search),
                    "model": _dict(self.model),
                    "cpu": _dict(self.cpu),
                    "built_at": self.built_at,
                    "builder": _dict(self.builder),
                    "user_vectors": self.user_vectors,
                    "ease_lambda": self.ease_lambda,
                    "ease_max_items": self.ease_max_items,
                    "tail_neighbours": self.tail_neighbours,
                    "tail_shrink": self.tail_shrink,
                    "inputs": _dict(self.inputs),
                    "store_seq": self.store_seq,
                    "ratings_filter": self.ratings_filter,
                    "learned": _dict(self.learned),
                }
            ),
        }
        return json.dumps(record, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, source: Path | str) -> Manifest:
        """Parse a manifest's text. Raises ArtifactError naming `source` (the file) and the problem: not
        JSON, another format, a required key missing, or a key of the wrong type (named by its path,
        e.g. "counts.movies")."""
        try:
            record = json.loads(text)
        except ValueError as e:
            raise ArtifactError(f"{source}: unreadable: {e}") from e
        if not isinstance(record, dict):
            raise ArtifactError(f"{source}: {_expected('a JSON object', record)}")
        if record.get("format") != FORMAT:
            raise ArtifactError(f"{source}: format {record.get('format')!r}, this server reads format {FORMAT}")
        try:
            return _manifest(_Object(record, ""))
        except _Malformed as e:
            raise ArtifactError(f"{source}: {e}") from None


def read_manifest(folder: Path) -> Manifest:
    """The manifest of the version folder `folder`. Raises ArtifactError naming the file and the problem."""
    path = folder / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ArtifactError(f"{folder}: no {MANIFEST} (incomplete build?)") from None
    except (OSError, ValueError) as e:  # ValueError: not UTF-8
        raise ArtifactError(f"{path}: unreadable: {e}") from e
    return Manifest.from_json(text, path)


# -- reading ------------------------------------------------------------------------------------


class _Malformed(ValueError):
    """A key missing or of the wrong type; the message starts with the key's path."""


class _Object:
    """One JSON object of the manifest, read key by key with the type each must have. The keys that
    were not asked for are the object's `rest()` (kept as they are)."""

    def __init__(self, value: object, where: str) -> None:
        if not isinstance(value, dict):
            raise _Malformed(f"{where}: {_expected('an object', value)}")
        self.value: dict[str, Any] = value
        self.where = where
        self.asked: set[str] = set()

    def path(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def _get(self, key: str) -> Any:
        self.asked.add(key)
        return self.value.get(key)  # JSON null reads as absent: the writer leaves a None out

    def value_of(self, key: str, kind: type[_T]) -> _T:
        value = self._get(key)
        if value is None:
            raise _Malformed(f"{self.path(key)}: missing")
        return _scalar(value, kind, self.path(key))

    def optional(self, key: str, kind: type[_T]) -> _T | None:
        value = self._get(key)
        return None if value is None else _scalar(value, kind, self.path(key))

    def object(self, key: str) -> _Object:
        value = self._get(key)
        if value is None:
            raise _Malformed(f"{self.path(key)}: missing")
        return _Object(value, self.path(key))

    def record(self, key: str, read: Callable[[_Object], _R]) -> _R | None:
        """The optional object at `key`, read by `read`."""
        value = self._get(key)
        return None if value is None else read(_Object(value, self.path(key)))

    def mapping(self, key: str, kind: type[_T]) -> dict[str, _T]:
        """The object at `key` (required), whose every value is a `kind`."""
        return self.object(key).values(kind)

    def optional_mapping(self, key: str, kind: type[_T]) -> dict[str, _T] | None:
        return None if self._get(key) is None else self.mapping(key, kind)

    def values(self, kind: type[_T]) -> dict[str, _T]:
        """This object, whose every value is a `kind`."""
        return {k: _scalar(v, kind, self.path(k)) for k, v in self.value.items()}

    def strings(self, key: str) -> tuple[str, ...]:
        """The list of strings at `key` (required)."""
        return tuple(_scalar(v, str, f"{self.path(key)}[{i}]") for i, v in enumerate(self.array(key) or ()))

    def objects(self, key: str) -> list[_Object] | None:
        """The optional list of objects at `key`."""
        items = self.array(key, required=False)
        return None if items is None else [_Object(v, f"{self.path(key)}[{i}]") for i, v in enumerate(items)]

    def array(self, key: str, required: bool = True) -> list[Any] | None:
        value = self._get(key)
        if value is None:
            if required:
                raise _Malformed(f"{self.path(key)}: missing")
            return None
        if not isinstance(value, list):
            raise _Malformed(f"{self.path(key)}: {_expected('a list', value)}")
        return value

    def rest(self) -> dict[str, Any]:
        return {k: v for k, v in self.value.items() if k not in self.asked}


_KINDS: dict[type, str] = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}


def _scalar(value: object, kind: type[_T], where: str) -> _T:
    # A JSON integer is also a number (kept as it is, so that the file round-trips); true/false are
    # not integers, although Python's bool is one.
    accepted: tuple[type, ...] = (int, float) if kind is float else (kind,)
    if isinstance(value, bool) != (kind is bool) or not isinstance(value, accepted):
        raise _Malformed(f"{where}: {_expected(_KINDS[kind], value)}")
    return cast(_T, value)


def _expected(what: str, value: object) -> str:
    return f"expected {what}, got {json.dumps(value)[:40]} ({type(value).__name__})"


def _manifest(o: _Object) -> Manifest:
    o.asked.add("format")  # checked by from_json
    return Manifest(
        index_version=o.value_of("index_version", str),
        dimensions=o.value_of("dimensions", int),
        counts=_counts(o.object("counts")),
        files=o.mapping("files", str),
        search=o.record("search", _search),
        model=o.record("model", _model),
        cpu=o.record("cpu", _cpu),
        built_at=o.optional("built_at", str),
        builder=o.record("builder", lambda b: BuilderRecord(b.value_of("movierec", str), b.value_of("pid", int))),
        user_vectors=o.optional("user_vectors", str),
        ease_lambda=o.optional("ease_lambda", float),
        ease_max_items=o.optional("ease_max_items", int),
        tail_neighbours=o.optional("tail_neighbours", int),
        tail_shrink=o.optional("tail_shrink", float),
        inputs=o.record("inputs", _inputs),
        store_seq=_or(o.optional("store_seq", int), 0),
        ratings_filter=o.optional("ratings_filter", str),
        learned=o.record("learned", _learned),
        extra=o.rest(),
    )


def _counts(o: _Object) -> Counts:
    return Counts(o.value_of("movies", int), o.value_of("users", int), o.optional("ratings", int))


def _search(o: _Object) -> SearchRecord:
    return SearchRecord(_choice(o.object("movies")), _choice(o.object("users")))


def _choice(o: _Object) -> IndexChoice:
    default = IndexChoice("flat")  # what a key older builds did not write defaults to
    return IndexChoice(
        kind=o.value_of("kind", str),
        lists=_or(o.optional("lists", int), default.lists),
        nprobe=_or(o.optional("nprobe", int), default.nprobe),
        recall_at_100=_or(o.optional("recall_at_100", float), default.recall_at_100),
        calibrated_on=_or(o.optional("calibrated_on", str), default.calibrated_on),
    )


def _model(o: _Object) -> ModelRecord:
    return ModelRecord(
        name=o.value_of("name", str),
        path=o.optional("path", str),
        fingerprint=o.optional("fingerprint", str),
        backend=o.optional("backend", str),
        backend_requested=o.optional("backend_requested", str),
        max_seq_length=o.optional("max_seq_length", int),
    )


def _cpu(o: _Object) -> CpuRecord:
    return CpuRecord(
        model=o.value_of("model", str),
        flags=o.strings("flags"),
        flags_off=o.strings("flags_off"),
        native_bf16=o.value_of("native_bf16", bool),
        source=o.value_of("source", str),
    )


def _inputs(o: _Object) -> Inputs:
    roles = [k for k in o.value if k != "store"]  # the data files; the store's record is another kind
    return Inputs(files={role: _input_file(o.object(role)) for role in roles}, store=o.record("store", _store))


def _input_file(o: _Object) -> InputFile:
    return InputFile(o.value_of("path", str), o.value_of("sha256", str), o.record("report", _report))


def _report(o: _Object) -> InputReport:
    return InputReport(
        path=o.value_of("path", str),
        rows_read=o.value_of("rows_read", int),
        rows_used=o.value_of("rows_used", int),
        skipped=o.optional_mapping("skipped", int) or {},
        warnings=o.optional_mapping("warnings", int) or {},
    )


def _store(o: _Object) -> StoreInput:
    return StoreInput(
        path=o.value_of("path", str),
        seq=o.value_of("seq", int),
        rows=o.optional("rows", int),
        not_in_catalogue=o.optional("not in the catalogue", int),
        replaced_by_a_later_rating=o.optional("replaced by a later rating", int),
    )


def _learned(o: _Object) -> LearnedRecord:
    curve = o.objects("curve")
    return LearnedRecord(
        file=o.optional("file", str),
        sha256=o.optional("sha256", str),
        config=o.record("config", lambda c: c.value),
        ratings=o.optional("ratings", int),
        trained_on_ratings=o.optional("trained on ratings", int),
        training=o.optional_mapping("training", int),
        curve=None if curve is None else tuple(point.values(float) for point in curve),
        seconds=o.optional("seconds", float),
        skipped=o.optional("skipped", str),
        carried_over_from=o.optional("carried over from", str),
        extra=o.rest(),
    )


def _or(value: _T | None, default: _T) -> _T:
    return default if value is None else value


# -- writing ------------------------------------------------------------------------------------


class _Record(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def _dict(record: _Record | None) -> dict[str, Any] | None:
    return None if record is None else record.to_dict()


def _present(record: dict[str, Any]) -> dict[str, Any]:
    """`record` without its None values: an absent record is an absent key, as older builds wrote it."""
    return {k: v for k, v in record.items() if v is not None}
