"""Every line a worker reads in the chat: short plain Chinese, one SMS segment (70 characters) where possible."""
from __future__ import annotations

EXAMPLE = "例如：兰山区阳光城工地，老板欠我们8个人三万五"
WELCOME = "您好，这里可以反映欠薪。请说一下在哪个工地、几个人、欠多少钱。" + EXAMPLE
SITE_GREETING = "您好，这里是{site}的欠薪反映。"
NOT_UNDERSTOOD = "没看明白。"

QUESTIONS = {
    "site": "工地在哪个区县、叫什么名字？例如：兰山区阳光城工地",
    "amount": "一共欠了多少钱？例如：35000元，或者三万五",
    "workers": "一共几个人被欠钱？只有您自己就回复1",
    "name": "请问您叫什么名字？不想留名请回复“匿名”",
    "phone": "请留一个手机号，方便部门联系您，例如13812345678",
}

WHICH_SITE = "您说的是哪个工地？{choices}。回复序号；都不是请回复“都不是”"
SITE_CHOICE = "{number}. {name}"
NONE_OF_THEM = {"都不是", "不是", "都不对", "没有", "0"}

PLACE_COUNTY = "“{place}”在哪个区县？例如：兰山区。也可以说详细地址"
SUMMARY = "请核对：{where}，{workers}人，{amount}，姓名{name}，电话{phone}。回复“确认”提交，回复“修改”重填"
OWED = "欠{amount}元"
AMOUNT_UNKNOWN = "欠款金额待核实"
SUMMARY_AGAIN = "请回复“确认”提交；要改就直接发正确的内容，例如：9个人"
EDIT = "请直接发正确的内容，例如：9个人、欠4万、姓名李四、兰山区阳光城工地"
SUBMITTED = "已提交，受理编号{ticket}。部门会尽快联系您。查进度请发送这个编号。"
ALREADY_SUBMITTED = "您的反映已经提交过了，受理编号{ticket}。查进度请发送这个编号。"

RESUME = "您上次还没说完，继续吗？回复1继续，2重新开始"
RESUMED = "好的，接着来。"
DRAFT_DROPPED = "上次没说完的内容已过期，请重新说一下。"
RESTART = "好的，重新开始。"
CANCELLED = "已取消，刚才的内容没有提交。需要时随时发消息给我们。"
HUMAN = "已通知工作人员，会尽快联系您。也可以直接拨打{hotline}。"
HELP = "直接说欠薪情况就能反映。发“查询”查进度，“重新开始”重填，“取消”作废，“人工”找工作人员。"
HELP_SMS = "回复TD退订短信。"
OPTED_OUT = "已退订，不再给您发短信通知。再发任何消息即可恢复。"
SELF_HARM = "您的难处我们知道了，请一定保重，我们会尽快处理。"

ASK_TICKET = "请发送12位受理编号，例如250101123456"
ASK_LAST4 = "请发送登记时留的手机号后4位"
STATUS = "编号{ticket}：{status}。"
NOT_FOUND = "没有查到，请核对编号和手机号。"
NO_CASES = "这个手机号还没有反映过欠薪。"

FOLLOW_UP = "已转给办理{ticket}号投诉的{department}。"
FOLLOW_UP_PHOTOS = "收到{count}张照片，已转给办理{ticket}号投诉的{department}。"
WHICH_CASE = "您有{count}件投诉在办理，这条消息是说哪一件？请回复序号：{choices}；要反映新的欠薪请回复“新投诉”"
CASE_CHOICE = "{number}.{where}（编号尾号{last4}）"
NEW_COMPLAINT = "好的，反映一件新的欠薪。"
STILL_ASKING = "刚才的问题：{question}"
CASE_CLOSED = "编号{ticket}的投诉已经销号办完了。有新的欠薪请直接说情况。"
# The answer to 工资到手了吗 (回复1 / 回复2 to the 办结 notice or its reminder).
PAID_NOTED = "谢谢您的确认，编号{ticket}已记下您的工资到手了。"
PAID_CLOSED = "谢谢您的确认，编号{ticket}已结案。以后再遇到欠薪，随时发消息给我们。"
UNPAID_NOTED = "已记下编号{ticket}您的工资没收到或不够，已转给{department}，他们会再联系您。"
# The answer to 您对处理结果满意吗 (回复1 / 2 / 3 to the 结案 notice).
GRADED = "谢谢您对编号{ticket}的评价，我们会继续改进。"

TRUNCATED = "（消息太长，只保存了前面的部分）"
PHOTOS_RECEIVED = "收到{count}张照片。"
TOO_MANY_PHOTOS = "照片最多{limit}张，多的没有保存。"
ANONYMOUS = "匿名"
