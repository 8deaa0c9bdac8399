"""Configuration: the example file documents every setting with its real default; env overrides win."""
from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

import pytest

from intake.foundation.settings import Settings, SettingsError, env_names, load_settings

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.toml"


def test_example_file_matches_defaults_exactly():
    assert load_settings(EXAMPLE, environ={}) == Settings()


def test_example_file_mentions_every_setting():
    text = EXAMPLE.read_text(encoding="utf-8")
    hints = typing.get_type_hints(Settings)
    for f in dataclasses.fields(Settings):
        if dataclasses.is_dataclass(hints[f.name]):
            assert f"[{f.name}]" in text
            for sub in dataclasses.fields(hints[f.name]):
                assert f"\n{sub.name} = " in text, f"{f.name}.{sub.name} is not documented"
        else:
            assert f"\n{f.name} = " in text, f"{f.name} is not documented"


def test_environment_overrides_file(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('public_base_url = "https://file.example"\n[database]\nurl = "sqlite:///file.db"\n')
    settings = load_settings(config, environ={
        "QINGLING_DATABASE_URL": "postgresql+psycopg://db/qingling",
        "QINGLING_SECRET_KEY": "s3cret",
        "QINGLING_UPLOADS_MAX_PHOTOS": "3",
        "QINGLING_DEMO": "yes",
        "QINGLING_POSTER_HOTLINES": '[["热线", "12345"]]',
    })
    assert settings.database.url == "postgresql+psycopg://db/qingling"
    assert settings.public_base_url == "https://file.example"
    assert settings.secret_key == "s3cret"
    assert settings.uploads.max_photos == 3
    assert settings.demo is True
    assert settings.poster.hotlines == (("热线", "12345"),)


def test_config_named_by_environment(tmp_path):
    config = tmp_path / "other.toml"
    config.write_text('public_base_url = "https://other.example"\n')
    assert load_settings(environ={"QINGLING_CONFIG": str(config)}).public_base_url == "https://other.example"


def test_missing_default_file_is_fine_but_a_named_one_is_not(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_settings(environ={}) == Settings()
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(environ={"QINGLING_CONFIG": str(tmp_path / "nope.toml")})


@pytest.mark.parametrize("content, message", [
    ("publc_base_url = 'x'", "unknown setting"),
    ("[database]\nurll = 'x'", r"unknown setting.*\[database\]"),
    ("[uploads]\nmax_photos = 'many'", "whole number"),
    ("demo = 'yes'", "true or false"),
    ("database = 3", "must be a table"),
    ("[poster]\nhotlines = [['only-one']]", "pairs"),
    ("this is not toml", "config.toml"),
])
def test_bad_files_are_refused_precisely(tmp_path, content, message):
    config = tmp_path / "config.toml"
    config.write_text(content)
    with pytest.raises(SettingsError, match=message):
        load_settings(config, environ={})


def test_bad_environment_values_are_refused():
    with pytest.raises(SettingsError, match="QINGLING_POSTER_HOTLINES|JSON"):
        load_settings(environ={"QINGLING_POSTER_HOTLINES": "12345"})
    with pytest.raises(SettingsError, match="whole number"):
        load_settings(environ={"QINGLING_UPLOADS_MAX_PHOTOS": "six"})


def test_env_names_follow_the_section_key_pattern():
    names = env_names()
    assert {"QINGLING_DATABASE_URL", "QINGLING_PUBLIC_BASE_URL", "QINGLING_SECRET_KEY"} <= set(names)


def test_a_county_adds_its_own_risk_words(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[reading]\nextra_risk_words = [["mass_incident", "去开发商家"]]\n', encoding="utf-8")
    reading = load_settings(config, environ={}).reading
    assert ("mass_incident", "去开发商家") in reading.all_risk_words()
    assert ("petition_media", "去政府") in reading.all_risk_words()
