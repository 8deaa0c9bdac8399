"""Phone and ID numbers at rest: encrypted in every row, still found by their keyed hashes, rotatable."""
from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select, text

from handlers import create_app
from handlers.runtime import services
from intake.conversation import replies as R
from intake.foundation.encryption import DataKeyError, lookup_hash
from intake.foundation.models import ClaimLine, Complainant
from intake.foundation.settings import PrivacySettings, SettingsError, load_settings
from intake.privacy.key_rotation import rotate_keys
from migrations import upgrade
from tests.helpers import csrf_token, invoke, make_site, sms, stored, submit, ticket_of

PHONE, ID_NUMBER = "13800138000", "11010519491231002X"
OLD_KEY, NEW_KEY, WRONG_KEY = (Fernet.generate_key().decode() for _ in range(3))


def raw_rows(session) -> str:
    """Every complainant row as the database holds it, read with plain SQL."""
    session.rollback()
    return repr(session.execute(text("SELECT * FROM complainants")).all())


def keyed(make_settings, data_key: str, *previous: str):
    return create_app(make_settings(privacy=PrivacySettings(data_key=data_key, previous_data_keys=previous)))


def file_three(app, session) -> list[str]:
    """Three web complaints under the app's keys, by two workers."""
    client, site = app.test_client(), make_site(session)
    phones = [PHONE, PHONE, "13900001111"]
    return [ticket_of(submit(client, f"/s/{site.public_token}", phone=phone, id_number=ID_NUMBER)) for phone in phones]


def found(client, ticket: str, last4: str) -> bool:
    """Whether the status page shows the case for the ticket number and the phone's last four digits."""
    page = client.get("/status").text
    return f"受理编号 {ticket}" in client.post("/status", data={"csrf_token": csrf_token(page), "ticket_no": ticket,
                                                              "phone_last4": last4}).text


def test_the_database_holds_neither_phone_nor_id_digits(client, session):
    ticket = ticket_of(submit(client, f"/s/{make_site(session).public_token}", phone=PHONE, id_number=ID_NUMBER))
    rows = raw_rows(session)
    assert PHONE not in rows and ID_NUMBER not in rows and ID_NUMBER[:-1] not in rows
    assert "110105********002X" in rows  # the mask, for lists
    [complaint] = stored(session)
    assert (complaint.complainant.phone, complaint.complainant.id_number) == (PHONE, ID_NUMBER)
    assert found(client, ticket, PHONE[-4:]) and not found(client, ticket, "1111")


def test_sms_status_finds_the_cases_of_the_number_by_its_hash(session, settings, client):
    site = make_site(session)
    tickets = [ticket_of(submit(client, f"/s/{site.public_token}", phone=p)) for p in ("13911112222", "13911112222",
                                                                                      "13900003333")]
    mine = sms(session, settings, phone="13911112222").say("查询").text
    assert tickets[0] in mine and tickets[1] in mine and tickets[2] not in mine
    assert sms(session, settings, phone="13700000000").say("查询").text == R.NO_CASES


def test_a_repeat_complainant_is_matched_by_the_hash_of_the_id_number(client, session):
    site = make_site(session)
    for phone in (PHONE, "13900001111"):
        submit(client, f"/s/{site.public_token}", phone=phone, id_number=ID_NUMBER)
    first, second = stored(session)
    assert first.complainant.id_number_hash == second.complainant.id_number_hash is not None
    assert first.complainant.phone_hash != second.complainant.phone_hash


def test_rotation_reencrypts_everything_and_old_values_stay_readable_meanwhile(make_settings, session):
    tickets = file_three(keyed(make_settings, OLD_KEY), session)
    before = raw_rows(session)

    rotating = keyed(make_settings, NEW_KEY, OLD_KEY)  # new key first: what a deployment runs during rotation
    client = rotating.test_client()
    assert found(client, tickets[0], PHONE[-4:])
    with pytest.raises(RuntimeError, match="interrupted"):  # stopped after the first batch of two
        rotate_keys(services(rotating).sessions, 2, progress=lambda report: _interrupt())
    assert found(client, tickets[2], "1111")  # a row not yet rotated is still found

    result = invoke(rotating, "keys", "rotate", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "共 3 条，本次重新加密 1 条，2 条原已是当前密钥" in result.output
    assert "本次重新加密 0 条" in invoke(rotating, "keys", "rotate").output  # re-running changes nothing
    after = raw_rows(session)
    assert after != before and PHONE not in after

    new_only = keyed(make_settings, NEW_KEY)
    assert [c.complainant.phone for c in stored(session)] == [PHONE, PHONE, "13900001111"]
    assert found(new_only.test_client(), tickets[0], PHONE[-4:])
    keyed(make_settings, OLD_KEY)
    with pytest.raises(DataKeyError):
        stored(session)[0].complainant.phone


def test_rotation_reencrypts_the_phones_of_claim_lines_too(make_settings, session):
    file_three(keyed(make_settings, OLD_KEY), session)
    session.add(ClaimLine(complaint_id=stored(session)[0].id, worker_name="李四", amount_claimed=4000, amount_paid=0,
                          phone="13800000002"))
    session.commit()
    before = session.scalar(select(ClaimLine.phone_hash))
    assert "13800000002" not in repr(session.execute(text("SELECT * FROM claim_lines")).all())
    assert invoke(keyed(make_settings, NEW_KEY, OLD_KEY), "keys", "rotate").exit_code == 0
    keyed(make_settings, NEW_KEY)  # the old key is gone: the line is readable and found under the new one only
    session.expire_all()
    line = session.scalar(select(ClaimLine))
    assert line.phone == "13800000002" and line.phone_hash == lookup_hash("13800000002") != before


def _interrupt():
    raise RuntimeError("interrupted")


def test_a_wrong_key_fails_loudly(make_settings, session):
    file_three(keyed(make_settings, OLD_KEY), session)
    wrong = keyed(make_settings, WRONG_KEY)
    with pytest.raises(DataKeyError, match="cannot be decrypted"):
        stored(session)[0].complainant.phone
    doctor = invoke(wrong, "doctor").output
    assert "✗ 数据密钥：已存的手机号无法用当前配置的密钥解密" in doctor
    result = invoke(wrong, "keys", "rotate")
    assert result.exit_code != 0 and "密钥不对，已停止" in result.output
    with pytest.raises(DataKeyError, match="not 32 bytes"):
        keyed(make_settings, "not-a-key")


def test_production_without_a_data_key_fails_the_doctor(make_settings):
    assert "✗ 数据密钥：未设置 QINGLING_PRIVACY_DATA_KEY" in invoke(create_app(make_settings()), "doctor").output
    assert "✓ 数据密钥：演示：由 secret_key 派生" in invoke(create_app(make_settings(demo=True)), "doctor").output
    assert "✓ 数据密钥：已设置" in invoke(keyed(make_settings, NEW_KEY), "doctor").output


def test_the_data_key_comes_from_the_environment_only(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[privacy]\ndata_key = "{NEW_KEY}"\n')
    with pytest.raises(SettingsError, match="QINGLING_PRIVACY_DATA_KEY"):
        load_settings(config, environ={})
    settings = load_settings(environ={"QINGLING_PRIVACY_DATA_KEY": NEW_KEY,
                                      "QINGLING_PRIVACY_PREVIOUS_DATA_KEYS": f'["{OLD_KEY}"]'})
    assert (settings.privacy.data_key, settings.privacy.previous_data_keys) == (NEW_KEY, (OLD_KEY,))


def test_the_migration_encrypts_phone_numbers_stored_before_it(make_settings, tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO complainants (id, phone, created_at) VALUES (1, :p, '2025-01-01 00:00:00')"),
                     {"p": PHONE})
    app = create_app(replace(make_settings(), privacy=PrivacySettings(data_key=NEW_KEY),
                             database=replace(make_settings().database, url=url)))
    upgrade(services(app).engine)
    with engine.connect() as conn:
        stored_phone, phone_hash = conn.execute(text("SELECT phone, phone_hash FROM complainants")).one()
    assert PHONE not in stored_phone and phone_hash
    with services(app).sessions() as s:
        complainant = s.get(Complainant, 1)
        assert (complainant.phone, complainant.phone_hash) == (PHONE, lookup_hash(PHONE))
    services(app).engine.dispose()
    engine.dispose()
