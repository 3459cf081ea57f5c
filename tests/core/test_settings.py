"""Settings from defaults, a TOML file, the environment and overrides, in that order of precedence."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from movierec.settings import ENV_PREFIX, RankingConfig, Settings, load_settings


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No MOVIEREC_* variables but the ones a test sets."""
    for key in list(os.environ):
        if key.upper().startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    return monkeypatch


def load(toml_path: Path | None = None, env: dict[str, str] | None = None, **overrides: object) -> Settings:
    """load_settings with these environment variables set (and no other MOVIEREC_* ones)."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in (env or {}).items():
            patch.setenv(key, value)
        return load_settings(toml_path, **overrides)


def toml(tmp_path: Path, text: str, name: str = "movierec.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    s = load(env={})
    assert s == Settings()
    assert s.index.index_dir == Path("var/index") and s.data.data_dir == Path("data/sample")
    assert s.ranking.candidate_movies == 500 and s.ranking.similar_users == 50 and s.index.keep_versions == 2
    assert s.data.movies_csv is None and s.data.ratings_csv is None


def test_environment_values_are_typed() -> None:
    s = load(
        env={
            "MOVIEREC_INDEX_DIR": "/srv/movierec/index",
            "MOVIEREC_CANDIDATE_MOVIES": " 123 ",
            "MOVIEREC_WEIGHT_TASTE": "0.75",
            "MOVIEREC_RATINGS_CSV": "/d/r.csv",
            "HOME": "/root",
            "PATH": "/bin",
            "MOVIERECX": "ignored",
        }
    )
    assert s.index.index_dir == Path("/srv/movierec/index") and isinstance(s.index.index_dir, Path)
    assert s.ranking.candidate_movies == 123 and type(s.ranking.candidate_movies) is int
    assert s.ranking.weights["taste"] == 0.75 and type(s.ranking.weights["taste"]) is float
    assert s.data.ratings_csv == Path("/d/r.csv")
    assert s.ranking.weights["prompt"] == Settings().ranking.weights["prompt"]  # untouched


def test_integer_text_for_a_float_setting() -> None:
    s = load(env={"MOVIEREC_WEIGHT_QUALITY": "2"})
    assert s.ranking.weights["quality"] == 2.0 and type(s.ranking.weights["quality"]) is float


def test_toml_file_with_a_movierec_table(tmp_path: Path) -> None:
    path = toml(
        tmp_path,
        '[movierec]\nindex_dir = "/var/lib/movierec"\ncandidate_movies = 42\n'
        'weight_taste = 0.125\naddress = "0.0.0.0:6000"\n',
    )
    s = load(path, env={})
    assert s.index.index_dir == Path("/var/lib/movierec")
    assert s.ranking.candidate_movies == 42 and type(s.ranking.candidate_movies) is int
    assert s.ranking.weights["taste"] == 0.125 and s.server.address == "0.0.0.0:6000"
    assert s.ranking.similar_users == Settings().ranking.similar_users


def test_toml_file_with_top_level_keys(tmp_path: Path) -> None:
    s = load(toml(tmp_path, "similar_users = 7\nweight_prompt = 3\n"), env={})
    assert (
        s.ranking.similar_users == 7
        and s.ranking.weights["prompt"] == 3.0
        and type(s.ranking.weights["prompt"]) is float
    )


def test_toml_file_named_by_movierec_config(tmp_path: Path) -> None:
    path = toml(tmp_path, "[movierec]\nkeep_versions = 9\n")
    assert load(env={"MOVIEREC_CONFIG": str(path)}).index.keep_versions == 9


def test_precedence_defaults_toml_env_overrides(tmp_path: Path) -> None:
    path = toml(tmp_path, "[movierec]\ncandidate_movies = 10\nsimilar_users = 10\nmax_workers = 10\n")
    env = {"MOVIEREC_SIMILAR_USERS": "20", "MOVIEREC_MAX_WORKERS": "20"}
    s = load(path, env=env, max_workers=30, batch_max_size=None)
    assert s.ranking.candidate_movies == 10  # TOML over the default
    assert s.ranking.similar_users == 20  # env over TOML
    assert s.server.max_workers == 30  # override over env
    assert s.server.batch_max_size == Settings().server.batch_max_size  # a None override is ignored
    assert s.encoder.embed_batch_size == Settings().encoder.embed_batch_size  # default where nobody set it


def test_unknown_environment_key_is_an_error() -> None:
    with pytest.raises(ValueError) as info:
        load(env={"MOVIEREC_CANDIDATES": "10"})
    assert "MOVIEREC_CANDIDATES" in str(info.value) and "candidates" in str(info.value)


def test_unknown_toml_key_is_an_error(tmp_path: Path) -> None:
    path = toml(tmp_path, "[movierec]\ncandidate_movies = 1\nweight_tatse = 0.3\n")
    with pytest.raises(ValueError) as info:
        load(path, env={})
    assert "weight_tatse" in str(info.value) and str(path) in str(info.value)


@pytest.mark.parametrize(
    "key,value,setting",
    [
        ("MOVIEREC_CANDIDATE_MOVIES", "lots", "candidate_movies"),
        ("MOVIEREC_KEEP_VERSIONS", "2.5", "keep_versions"),
        ("MOVIEREC_WEIGHT_TASTE", "heavy", "weight_taste"),
    ],
)
def test_non_numeric_environment_value_is_an_error(key: str, value: str, setting: str) -> None:
    with pytest.raises(ValueError) as info:
        load(env={key: value})
    assert setting in str(info.value) and value in str(info.value)


def test_non_numeric_toml_value_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as info:
        load(toml(tmp_path, '[movierec]\nsimilar_users = "many"\n'), env={})
    assert "similar_users" in str(info.value) and "many" in str(info.value)


def test_empty_optional_path_means_none() -> None:
    s = load(env={"MOVIEREC_MOVIES_CSV": ""})
    assert s.data.movies_csv is None


def test_empty_required_path_is_not_none() -> None:
    try:
        s = load(env={"MOVIEREC_DATA_DIR": ""})
    except ValueError as e:
        assert "data_dir" in str(e)
    else:
        assert isinstance(s.data.data_dir, Path), s.data.data_dir


def test_replace_ignores_none() -> None:
    s = Settings().replace(candidate_movies=7, index_dir=None)
    assert s.ranking.candidate_movies == 7 and s.index.index_dir == Settings().index.index_dir


def test_the_weights_default_to_the_signal_registry_and_the_ranking_reads_the_section_itself() -> None:
    from movierec import signals
    from movierec.ranking import RankingConfig

    ranking = Settings().ranking
    assert ranking == RankingConfig() and isinstance(ranking, RankingConfig)
    assert ranking.weights == {s.name: s.weight for s in signals.REGISTRY}
    assert ranking.anonymous_weights == {s.name: s.anonymous_weight for s in signals.REGISTRY}
    assert ranking.conversation_weights == {
        s.name: s.conversation_weight for s in signals.REGISTRY if s.conversation_weight is not None
    }
    # A conversation without a weight of its own for a signal uses the anonymous one.
    assert ranking.weight("match", anonymous=True, conversation=True) == ranking.weight("match", anonymous=True)


def test_allowed_names_are_the_ones_the_code_uses() -> None:
    from typing import get_args

    from movierec.group import STRATEGIES
    from movierec.settings import GroupStrategy

    assert set(get_args(GroupStrategy)) == {s.name for s in STRATEGIES}


@pytest.mark.parametrize(
    "key,value,setting,says",
    [
        ("MOVIEREC_BATCH_MAX_SIZE", "0", "batch_max_size", "greater than or equal to 1"),
        ("MOVIEREC_GROUP_MISERY_THRESHOLD", "1.5", "group_misery_threshold", "less than or equal to 1"),
        ("MOVIEREC_WEIGHT_TASTE", "-1", "weight_taste", "greater than or equal to 0"),
        ("MOVIEREC_LOG_FORMAT", "xml", "log_format", "'text' or 'json'"),
        ("MOVIEREC_GROUP_STRATEGY", "median", "group_strategy", "fair"),
        ("MOVIEREC_RANKER", "mlp", "ranker", "weighted_sum"),
        ("MOVIEREC_LOG_PROMPTS", "perhaps", "log_prompts", "boolean"),
    ],
)
def test_out_of_range_and_unknown_names_are_one_error_naming_the_setting_and_its_source(
    key: str, value: str, setting: str, says: str
) -> None:
    with pytest.raises(ValueError) as info:
        load(env={key: value})
    message = str(info.value)
    assert message.startswith(f"setting {setting} (from environment variable {key}): {value!r}"), message
    assert says in message, message


def test_the_log_level_is_read_in_any_case_and_the_clients_token_variable_is_not_a_setting() -> None:
    s = load(env={"MOVIEREC_LOG_LEVEL": "debug", "MOVIEREC_TOKEN": "a-token-for-the-cli-only"})
    assert s.logging.log_level == "DEBUG"


def test_settings_built_in_code_ignore_the_environment() -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MOVIEREC_SIMILAR_USERS", "3")
        assert Settings().ranking.similar_users == RankingConfig.model_fields["similar_users"].default
        assert load_settings().ranking.similar_users == 3


def test_replace_checks_its_values() -> None:
    with pytest.raises(ValueError, match="candidate_movies"):
        Settings().replace(candidate_movies=0)


def test_the_store_is_sqlite_in_the_index_dir_unless_store_url_or_store_path_says_otherwise() -> None:
    assert load(env={}).effective_store_url == "sqlite:///var/index/feedback.sqlite"
    assert load(env={"MOVIEREC_STORE_PATH": "/srv/f.sqlite"}).effective_store_url == "sqlite:////srv/f.sqlite"
    url = "postgresql://movierec:pw@db.example:5432/movierec"
    assert load(env={"MOVIEREC_STORE_URL": url}).effective_store_url == url
    assert load(env={"MOVIEREC_STORE_URL": "sqlite:///x.sqlite"}).effective_store_url == "sqlite:///x.sqlite"
    assert load(env={"MOVIEREC_STORE_URL": ""}).store.store_url is None


@pytest.mark.parametrize(
    "value, says",
    [
        ("mysql://movierec:hunter2-secret@db/movierec", "expected sqlite:///<path> or postgresql://"),
        ("sqlite://feedback.sqlite", "three slashes"),
        ("postgresql://movierec:hunter2-secret@db:port/movierec", "not a valid PostgreSQL URL"),
        ("/var/feedback.sqlite", "expected sqlite:///<path> or postgresql://"),
    ],
)
def test_a_bad_store_url_is_one_sentence_naming_the_setting_without_the_password(value: str, says: str) -> None:
    with pytest.raises(ValueError) as info:
        load(env={"MOVIEREC_STORE_URL": value})
    message = str(info.value)
    assert message.startswith("setting store_url (from environment variable MOVIEREC_STORE_URL): "), message
    assert says in message and "hunter2-secret" not in message and "\n" not in message, message
    with pytest.raises(Exception) as direct:  # pydantic's own error, from code: no password either
        Settings(store_url=value)
    assert "hunter2-secret" not in str(direct.value)


def test_store_url_and_store_path_together_are_refused() -> None:
    with pytest.raises(ValueError, match="store_url and store_path are both set"):
        load(env={"MOVIEREC_STORE_URL": "sqlite:///a.sqlite", "MOVIEREC_STORE_PATH": "b.sqlite"})


def test_nested_tables_and_flat_names_name_the_same_settings(tmp_path: Path) -> None:
    nested = load(
        toml(tmp_path, "[movierec.ranking]\nsimilar_users = 9\n[movierec.ranking.weights]\ntaste = 0.5\n"), env={}
    )
    flat = load(toml(tmp_path, "similar_users = 9\nweight_taste = 0.5\n", "flat.toml"), env={})
    assert nested == flat and nested.ranking.weights["taste"] == 0.5
    assert nested.ranking.weights["prompt"] == Settings().ranking.weights["prompt"]  # unnamed: the default
    # The environment's flat name wins over the TOML table, and Settings(...) takes either form.
    over = load(
        toml(tmp_path, "[movierec.ranking.weights]\ntaste = 0.5\n", "t.toml"), env={"MOVIEREC_WEIGHT_TASTE": "2"}
    )
    assert over.ranking.weights["taste"] == 2.0
    assert Settings(ranking={"weights": {"taste": 0.5}}, similar_users=9) == flat


def test_every_setting_has_one_flat_name_and_replace_takes_it() -> None:
    flat = Settings().flat()
    assert flat["weight_taste"] == 1.0 and flat["index_dir"] == Path("var/index") and "anonymous_weight_taste" in flat
    assert Settings().replace(weight_taste=0.25, anonymous_weight_match=0).ranking.weight("match", anonymous=True) == 0
    assert Settings().replace(weight_taste=0.25).ranking.weights["prompt"] == Settings().ranking.weights["prompt"]


@pytest.mark.parametrize(
    "source,says",
    [
        ({"MOVIEREC_WEIGHT_BOGUS": "1"}, "environment variable MOVIEREC_WEIGHT_BOGUS: unknown setting 'weight_bogus'"),
        ({"MOVIEREC_RANKING": "{}"}, "unknown setting 'ranking'"),
    ],
)
def test_a_weight_for_no_signal_is_refused(source: dict[str, str], says: str) -> None:
    with pytest.raises(ValueError, match=says):
        load(env=source)


def test_a_weights_table_naming_no_signal_is_one_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError) as info:
        load(toml(tmp_path, "[movierec.ranking.weights]\nbogus = 1\n"), env={})
    assert "'bogus' is not a signal" in str(info.value) and "prompt" in str(info.value)
