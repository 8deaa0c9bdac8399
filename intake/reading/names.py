"""Who a complaint is against, as a key two complaints can share: the one list of words that are never an employer.

Workers name a party by its role (老板, 包工头, 项目部, 劳务公司 ...) as often as by its name. A role names nobody:
two complaints that both say 老板 may be against two different people, so a role word is never an employer,
never a register entry and never a reason to link complaints into a collective case. Extraction
(`intake.reading.extract`), the employer register (`intake.supervision.employers`) and collectives
(`intake.case.routing`) all ask `employer_key` and nothing else.
"""
from __future__ import annotations

import re
import unicodedata

KEY_MAX = 300
# Roles and generic parties: they say what someone is, not who.
ROLE_WORDS = (
    "老板娘", "老板", "老总", "包工头", "包工队", "工头", "班组长", "班组", "班长", "队长", "组长", "项目经理", "经理",
    "负责人", "管事的", "开发商", "甲方", "乙方", "总包", "分包", "承包商", "承包人", "发包方", "用人单位", "用工单位",
    "建设单位", "施工单位", "单位", "项目部", "项目", "工地", "施工队", "工程队", "劳务队", "劳务公司", "建筑公司",
    "公司", "厂里", "厂家", "工厂", "老乡", "中介", "他们", "他", "她",
)
# Words that describe a trade or point at something, and make no name on their own ("那个建筑工程公司").
GENERIC_PARTS = (
    "劳务", "建筑", "建设", "工程", "装饰", "装修", "房地产", "地产", "开发", "施工", "置业", "集团",
    "那个", "这个", "那家", "这家", "那", "这", "大", "总", "小", "某", "个", "家", "的",
)
# Legal-form suffixes: "临沂鑫源劳务有限公司" and "鑫源劳务公司" are one employer.
_SUFFIXES = ("有限责任公司", "股份有限公司", "集团有限公司", "有限公司", "集团公司", "公司")
# The deployment's province and city as written before a company name ("山东临沂鑫源" is "鑫源").
_PLACE_PREFIX = re.compile(r"^(?:山东省|山东)?(?:临沂市|临沂)?")
_GENERIC = re.compile("(?:" + "|".join(sorted(ROLE_WORDS + GENERIC_PARTS, key=len, reverse=True)) + ")+")
_NOT_WORD = re.compile(r"[\W_]+")


def employer_key(name: str | None) -> str | None:
    """The normalised key of a named employer, or None when the text names nobody (empty, a role, a generic word).

    Full-width characters become half-width (NFKC), case, spaces and punctuation are dropped, then the place
    prefix and the legal-form suffix, so the ways one company is written meet on one key.
    """
    text = _NOT_WORD.sub("", unicodedata.normalize("NFKC", name or "").lower())
    text = _PLACE_PREFIX.sub("", text)
    stripped = True
    while stripped:
        stripped = False
        for suffix in _SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text, stripped = text[:-len(suffix)], True
    if not text or _GENERIC.fullmatch(text):
        return None
    return text[:KEY_MAX]


def is_named(name: str | None) -> bool:
    """True when the text names a party (a company, a person), not only a role."""
    return employer_key(name) is not None
