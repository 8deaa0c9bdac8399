"""Timeline actors shown as staff read them: the department and the person, never the account id."""
from __future__ import annotations

from intake.people.actors import actor_names
from tests.helpers import make_accounts


def test_each_kind_of_actor_gets_a_name_a_person_understands(session):
    accounts = make_accounts(session)
    names = actor_names(session, [f"staff:{accounts['staff']}", f"staff:{accounts['county']}", "system:router",
                                  "system:clock", "worker:wechat", "staff:gone-user", "cli"])
    assert names[f"staff:{accounts['staff']}"] == f"兰山区住房和城乡建设局 {accounts['staff']}"
    assert names[f"staff:{accounts['county']}"] == f"兰山区 {accounts['county']}"
    assert names["system:router"] == "系统自动派单" and names["system:clock"] == "系统计时"
    assert names["worker:wechat"] == "工人本人" and names["cli"] == "管理员（命令行）"
    assert names["staff:gone-user"] == "staff:gone-user"  # an account since removed keeps its id
