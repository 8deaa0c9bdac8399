"""The names of the steps staff and client systems take on a case. One enum, so a typo fails at import, and the
scope check (intake.people.access), the rules (intake.case.actions), the console and the API all use the same
names."""
from __future__ import annotations

import enum


class CaseAction(str, enum.Enum):
    ACKNOWLEDGE = "acknowledge"              # 签收
    CONTACT = "contact"                      # 联系工人
    ACCEPT = "accept"                        # 受理
    REJECT = "reject"                        # 不予受理
    WAIT = "wait"                            # 等待工人补充材料 (clocks pause)
    MATERIAL = "material"                    # 材料已收到 (clocks resume)
    MEASURES = "measures"                    # 处理措施
    INVESTIGATE = "investigate"              # 立案
    CLAIM_LINE = "claim_line"                # 添加工人及欠薪金额
    PAYMENT = "payment"                      # 记录工资发放
    RESOLVE = "resolve"                      # 办结
    REQUEST_EXTENSION = "request_extension"  # 申请延期
    DECIDE_EXTENSION = "decide_extension"    # 审批延期
    REQUEST_RETURN = "request_return"        # 申请退回
    DECIDE_RETURN = "decide_return"          # 审批退回
    RETURN = "return"                        # 退回
    TRANSFER = "transfer"                    # 转办
    SUPERVISE = "supervise"                  # 挂牌督办
    CLOSE_OVERRIDE = "close_override"        # 不经工人确认结案
    REOPEN = "reopen"                        # 重新办理
    MESSAGE = "message"                      # 发消息给工人
    TAKE = "take"                            # 我来办理 (the user becomes the case's officer)
    ASSIGN = "assign"                        # 指定承办人 (a colleague of the department)
    RELEASE = "release"                      # 交回部门 (no officer)
    NOTE = "note"                            # 内部备注 (the worker never sees it)
    MARK_DUPLICATE = "mark_duplicate"        # 标为重复投诉 (same worker, same site: the other ticket carries on)
    UNMARK_DUPLICATE = "unmark_duplicate"    # 撤销重复标记
    ORDER_PAYMENT = "order_payment"          # 责令限期支付
    ORDER_PAID = "order_paid"                # 限期内已支付
    POLICE_TRANSFER = "police_transfer"      # 移送公安
    POLICE_RECEIPT = "police_receipt"        # 公安机关签收回执
    POLICE_DECISION = "police_decision"      # 公安机关立案 / 不予立案
    PLAN_STEP = "plan_step"                  # 一案一策：添加步骤
    PLAN_STEP_DONE = "plan_step_done"        # 一案一策：步骤完成
    CLEARING_NOTICE = "clearing_notice"      # 函告住建部门清出建筑市场
    CLEARING_REPLY = "clearing_reply"        # 住建部门回复
    MERGE_COLLECTIVE = "merge_collective"    # 并入集体欠薪案件
    SPLIT_COLLECTIVE = "split_collective"    # 移出集体欠薪案件
    UNMERGE_COLLECTIVE = "unmerge_collective"  # 撤销并案 (every complaint a merge moved goes back where it was)
    # A co-handler's own steps (发改, 财政, 国资 ... told of a case they do not hold).
    CO_FUNDS = "co_funds"                    # 资金拨付
    CO_PAYMENT_STATUS = "co_payment_status"  # 项目款支付情况
    CO_REPLY = "co_reply"                    # 协办答复
    PETITION = "petition"                    # 记录上访

    def __str__(self) -> str:
        return self.value
