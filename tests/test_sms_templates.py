"""Mapping texts onto mainland SMS templates: nothing cut off, each variable within its limit."""
from __future__ import annotations

import pytest

from intake.delivery.sms_templates import NOTICE_KINDS, REPLY, Templates
from intake.foundation.settings import SmsSettings

THREE = Templates({"reply": "R", "notice": "N"}, ("a", "b", "c"), 10)


def test_a_short_text_is_one_message_without_the_signature_the_gateway_adds():
    assert THREE.pieces("【清零】编号250101123456已受理。") == ["编号250101123456已受理。"]
    assert THREE.values("【清零】编号250101123456已受理。") == {"a": "编号25010112", "b": "3456已受理。", "c": ""}


def test_a_long_text_is_split_marked_and_complete():
    text = "已提交，受理编号250101123456。部门会尽快联系您。查进度请发送这个编号，或者拨打12333咨询。"
    pieces = THREE.pieces(text)
    assert len(pieces) > 1 and all(len(p) <= THREE.capacity for p in pieces)
    assert [p[:p.index(")") + 1] for p in pieces] == [f"({i}/{len(pieces)})" for i in range(1, len(pieces) + 1)]
    assert "".join(p[p.index(")") + 1:] for p in pieces) == text
    assert pieces[0].endswith("。")  # split after a sentence where one falls late enough
    assert all(THREE.pieces(p) == [p] for p in pieces)  # a piece is never split again


def test_values_refuse_what_a_template_cannot_hold():
    with pytest.raises(ValueError, match="split it first"):
        THREE.values("欠" * 31)


def test_notices_fall_back_to_the_notice_template_but_replies_do_not():
    assert THREE.code_for("worker_resolved") == "N" and THREE.code_for(REPLY) == "R"
    only_notices = Templates({"notice": "N", "worker_resolved": "W"}, ("a",), 35)
    assert only_notices.code_for("worker_resolved") == "W"
    assert only_notices.missing() == [REPLY]
    assert Templates({"reply": "R"}, ("a",), 35).missing() == list(NOTICE_KINDS)


def test_settings_make_the_templates():
    templates = Templates.from_settings(SmsSettings(templates=(("reply", "SMS_1"),), template_variables=("x", "y"),
                                                    variable_max_chars=20))
    assert (templates.code_for(REPLY), templates.capacity) == ("SMS_1", 40)
