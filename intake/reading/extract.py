"""Understand a worker's free-text wage-arrears complaint in one go.

Workers type on a phone, tired and angry: no punctuation, dialect (俺, 咱, 俩, 仨), full-width digits, colloquial
numbers ("三万五", "2万8"). The dialogue confirms whatever is read here back to the worker instead of asking
field by field, so the extractor prefers leaving a field empty to guessing it, and never raises.

Pure functions over plain data: no Flask, no database. The only project file read is the packaged handling
directory (intake/data/linyi.toml), for the default counties.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Generic, Iterable, TypeVar

import cn2an
from rapidfuzz import fuzz

from intake.foundation.settings import RISK_WORDS
from intake.foundation.validation import drop_invisible
from intake.reading.names import is_named

__all__ = [
    "ClaimDraft",
    "CountyRef",
    "SiteChoice",
    "SiteMatch",
    "SiteRef",
    "Value",
    "extract_claim",
    "load_counties",
]

T = TypeVar("T")


@dataclass(frozen=True)
class Value(Generic[T]):
    """A number read from the text; approximate when the worker hedged (多, 余, 几, 近, 左右, ...)."""

    value: T
    approximate: bool = False


@dataclass(frozen=True)
class SiteRef:
    """A site as matching sees it: its name, the names workers use (aliases), address and general contractor."""

    id: str
    name: str
    address: str
    county_code: str
    aliases: tuple[str, ...] = ()
    contractor: str = ""


@dataclass(frozen=True)
class CountyRef:
    """A handling unit; `towns` are the town and street-office names that place a complaint in it."""

    code: str
    name: str
    short_names: tuple[str, ...] = ()
    towns: tuple[str, ...] = ()


@dataclass(frozen=True)
class SiteMatch:
    site_id: str
    score: float


@dataclass(frozen=True)
class SiteChoice:
    """One of the sites that fit equally well, for the dialogue to ask between by name."""

    site_id: str
    name: str


@dataclass
class ClaimDraft:
    """What the text says; every field may be absent. `missing()` drives the follow-up questions."""

    amount: Value[int] | None = None
    amount_per_person: Value[int] | None = None
    workers: Value[int] | None = None
    group_unknown_size: bool = False
    months: Value[int] | None = None
    period: str | None = None
    county_code: str | None = None
    site: SiteMatch | None = None
    site_ambiguous: bool = False
    site_choices: tuple[SiteChoice, ...] = ()
    employer: str | None = None
    risk_flags: tuple[str, ...] = ()
    risk_terms: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def missing(self) -> tuple[str, ...]:
        """Key fields still to ask for; a per-person amount counts as an amount (the total follows from workers)."""
        out = []
        if self.site is None and self.county_code is None:
            out.append("site_or_county")
        if self.amount is None and self.amount_per_person is None:
            out.append("amount")
        if self.workers is None:
            out.append("workers")
        return tuple(out)


# ---------------------------------------------------------------- directory

def load_counties(path: str | Path | None = None) -> tuple[CountyRef, ...]:
    """Read the handling units ([[units]]) of a directory TOML; default: the packaged Linyi directory."""
    if path is None:
        raw = resources.files("intake").joinpath("data", "linyi.toml").read_bytes()
    else:
        raw = Path(path).read_bytes()
    data = tomllib.loads(raw.decode("utf-8"))
    units = data.get("units", ())
    towns = town_names(units, data.get("places", {}).get("ordinary_words", ()))
    return tuple(
        CountyRef(code=str(u["code"]), name=u["name"], short_names=tuple(u.get("short_names", ())),
                  towns=towns[str(u["code"])])
        for u in units
    )


_TOWN_SUFFIX = re.compile(r"(?:街道办事处|街道|镇|乡)$")


def town_names(units: Iterable[dict], ordinary_words: Iterable[str] = ()) -> dict[str, tuple[str, ...]]:
    """Per unit code, the names its towns go by: the full name ("义堂镇") and, as workers say it, the name without
    镇/乡/街道 ("义堂"), unless that short form is an everyday word or names towns of two units (高都)."""
    units = list(units)
    ordinary = set(ordinary_words)
    shorts: dict[str, set[str]] = {}
    for u in units:
        for town in u.get("towns", ()):
            short = _TOWN_SUFFIX.sub("", town)
            if len(short) >= 2 and short != town and short not in ordinary:
                shorts.setdefault(short, set()).add(str(u["code"]))
    out = {}
    for u in units:
        code, names = str(u["code"]), []
        for town in u.get("towns", ()):
            short = _TOWN_SUFFIX.sub("", town)
            names += [town] + ([short] if shorts.get(short) == {code} else [])
        out[code] = tuple(names)
    return out


@lru_cache(maxsize=1)
def _default_counties() -> tuple[CountyRef, ...]:
    return load_counties()


@lru_cache(maxsize=16)
def _county_matcher(counties: tuple[CountyRef, ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    """One alternation, longest alias first, so "临港经济开发区" wins over "经济开发区" at the same place."""
    alias: dict[str, str] = {}
    for c in counties:
        for name in (c.name, *c.short_names):
            if name:
                alias.setdefault(_normalise(name), c.code)
    ordered = sorted(alias, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, ordered)) or r"(?!)"), alias


# ---------------------------------------------------------------- normalisation

_SPACES = re.compile(r"\s+")
_DIALECT = str.maketrans({"俩": "两个", "仨": "三个", "廿": "二十", "壹": "一", "贰": "二", "叁": "三", "肆": "四",
                          "伍": "五", "陆": "六", "柒": "七", "捌": "八", "玖": "九", "拾": "十", "佰": "百",
                          "仟": "千", "萬": "万", "〇": "零"})


_LIST_COMMA = re.compile(r",(?!(?<=\d,)\d{3}(?!\d))")


def _normalise(text: str) -> str:
    """No invisible characters, full-width to half-width (NFKC), lower case, dialect numerals (俩 = 两个), one
    space for any blank run. A comma that separates list items ("临沭县，六个人，13万") is written "，", so only
    a thousands separator ("1,200") is left as ","."""
    text = unicodedata.normalize("NFKC", drop_invisible(text)).lower().translate(_DIALECT)
    return _SPACES.sub(" ", _LIST_COMMA.sub("，", text)).strip()


# ---------------------------------------------------------------- numbers

_CN = "零一二两三四五六七八九十"
# A number starts with a digit (never with a unit: "千万别" is not ten million) and may mix 3.5万, 2万8, 1,200.
NUM = (rf"(?<![\d.,])(?:\d{{1,3}}(?:,\d{{3}})+(?!\d)|\d+(?:\.\d+)?|[{_CN}几])"
       rf"(?:\d+(?:\.\d+)?|[{_CN}百千万亿几])*")
_APPROX_WORDS = "接近|将近|差不多|大概|大约|估计|约|近|快|小"
_APPROX_PRE = rf"(?P<pre>{_APPROX_WORDS})?"
_APPROX_SUF = r"(?P<suf>多|余|来)?"
_TRAILING = re.compile(r"(.*[万千百])([1-9一二两三四五六七八九])")
_JI = re.compile(r"几[十百千]?(?=[万亿]|$)")
_TRAIL_UNIT = {"万": 1000, "千": 100, "百": 10}
_PAIR = re.compile(r"([一二三四五六七八])([二三四五六七八九])(?=[十百千万]|$)")
_DIGIT = {c: i for i, c in enumerate("零一二三四五六七八九")}


@lru_cache(maxsize=1024)
def _parse_number(token: str) -> tuple[float | None, bool]:
    """Value of one number token and whether 几 made it approximate.

    Colloquial trailing digits are handled here, not left to chance: a bare digit after 万 means thousands
    ("2万8" = 28000), after 千 hundreds ("三千五" = 3500), after 百 tens. A leading 几 ("几万") has no value.
    """
    if token.startswith("几"):
        return None, True
    approx = "几" in token
    t = _JI.sub("", token.replace(",", ""))
    pair = _PAIR.search(t)
    if pair and _DIGIT[pair.group(2)] == _DIGIT[pair.group(1)] + 1:
        t, approx = t[:pair.start()] + pair.group(1) + t[pair.end():], True  # "五六万": the lower bound
    if not t:
        return None, approx
    m = _TRAILING.fullmatch(t)
    if m and not m.group(1).endswith("零") and len(m.group(1)) > 1:
        head, _ = _parse_number(m.group(1))
        tail, _ = _parse_number(m.group(2))
        if head is None or tail is None:
            return None, approx
        return head + tail * _TRAIL_UNIT[m.group(1)[-1]], approx
    try:
        return float(t), approx
    except ValueError:
        pass
    try:
        return float(cn2an.cn2an(t, "smart")), approx
    except (ValueError, KeyError, IndexError, TypeError):
        return None, approx


def _mask(text: str, start: int, end: int) -> str:
    return text[:start] + "#" * (end - start) + text[end:]


def _mask_all(text: str, pattern: re.Pattern[str]) -> str:
    return pattern.sub(lambda m: "#" * len(m.group(0)), text)


# Phone numbers, ID and bank-card numbers, and numbers labelled as such are never amounts.
_IDS = re.compile(r"(?<![\d.])(?:1[3-9]\d{9}|1[3-9]\d[ -]\d{4}[ -]\d{4}|\d{17}[\dx]|\d{9,})(?![\d.])"
                  r"|(?:电话|手机|微信|qq|身份证|卡号|号码|工号)[:是号为 ]{0,3}[\dx-]+")

# ---------------------------------------------------------------- period

_MONTH = r"(?:1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])"
_YEAR = r"(?:(?P<{}>\d{{4}}|\d{{2}}|去|今|前)年)"
_RANGE = re.compile(
    rf"(?:{_YEAR.format('y1')})?(?<![\d.])(?P<m1>{_MONTH})(?:月份?)?(?:\d{{1,2}}[号日])?(?:底|初|中旬|中)?"
    rf" ?(?:开始|一直)?(?:干|做)?(?:到|至|-|~|—)+ ?"
    rf"(?:{_YEAR.format('y2')})?(?<![\d.])(?P<m2>{_MONTH})月份?(?:\d{{1,2}}[号日])?(?:底|初|中旬|中)?"
)
_DURATION = re.compile(
    rf"{_APPROX_PRE}(?:(?P<year>{NUM}年半?多?|半年|大半年)(?!\d|月|份)"
    rf"|(?P<num>{NUM})个(?P<half>半)?(?P<suf>多)?月(?!份))"
)
_OPEN_PERIOD = re.compile(
    rf"(?:去年|今年|前年|(?:20)?\d{{2}}年)?{_MONTH}月份?(?:\d{{1,2}}[号日])?(?:开始)?(?:到|至)(?:现在|今天|目前|如今)"
    r"|(?:去年|前年|今年|(?:20)?\d{2}年)(?:一年|全年|整年|年底|下半年|上半年)?(?=的?(?:工资|工钱|钱|活))"
)
_DATES = re.compile(
    rf"(?:\d{{2,4}}|去|今|前)年(?:{_MONTH}月份?)?(?:\d{{1,2}}[号日])?"
    rf"|{_MONTH}月份?(?:\d{{1,2}}[号日]|底|初|中旬)?"
    r"|\d{4}[./-]\d{1,2}(?:[./-]\d{1,2})?|\d{1,2}[./-]\d{1,2}[号日]|\d{1,2}[号日]"
)
# Counts of things that are not money or people: days, ages, floors, building phases, lengths.
_OTHER_UNITS = re.compile(
    rf"{NUM}(?:多|来)?个?(?:天|岁|楼|层|号(?!人|工人|农民工|民工)|米|平|方|吨|车|斤|公里|次|遍|栋|期|标段|间|套|台|辆|小时|工日|"
    r"个工(?![人友])|组|排)"
)


_RELATIVE_YEAR = {"前": -2, "去": -1, "今": 0}


def _month_index(year: str | None, month: str) -> int | None:
    """Months since a reference; relative years (去年) and digit years only compare among themselves."""
    m, _ = _parse_number(month)
    if m is None or not 1 <= m <= 12:
        return None
    if year is None:
        y = 0
    elif year in _RELATIVE_YEAR:
        y = _RELATIVE_YEAR[year]
    else:
        y = int(year) % 100
    return y * 12 + int(m)


def _read_period(text: str) -> tuple[Value[int] | None, str | None, str]:
    """Months owed and the phrase that says so; returns the text with every date masked."""
    months: Value[int] | None = None
    period: str | None = None
    for m in _RANGE.finditer(text):
        y1, y2 = m.group("y1"), m.group("y2")
        a = _month_index(y1, m.group("m1"))
        b = _month_index(y2 or y1, m.group("m2"))
        if a is None or b is None:
            continue
        if y1 is None and y2 is None and b < a:
            b += 12  # "10月到3月": across the new year
        if y1 is not None and y2 is not None and y1.isdigit() != y2.isdigit():
            continue  # "2023年10月到今年3月" cannot be counted without knowing today
        if 0 <= b - a < 60 and months is None:
            months, period = Value(b - a + 1), m.group(0).strip()
        text = _mask(text, m.start(), m.end())
    for m in _DURATION.finditer(text):
        value = _duration_months(m)
        if value is None or (value.value == 1 and _RATE_AFTER.match(text, m.end())):
            continue  # "一个月3000" is a wage rate, left for the amount reader to skip
        if months is None:
            months, period = value, m.group(0)
        text = _mask(text, m.start(), m.end())
    if period is None:
        y = _OPEN_PERIOD.search(text)
        if y:
            period = y.group(0)
    return months, period, _mask_all(text, _DATES)


def _duration_months(m: re.Match[str]) -> Value[int] | None:
    if m.group("year"):
        phrase = m.group("year")
        if phrase in ("半年", "大半年"):
            return Value(6, phrase == "大半年" or bool(m.group("pre")))
        n, approx = _parse_number(phrase.split("年")[0])
        if n is None or not 0 < n < 10 or n != int(n):
            return None  # "2024年" is a date, not a duration
        return Value(int(n * 12) + (6 if "半" in phrase else 0), approx or "多" in phrase or bool(m.group("pre")))
    n, approx = _parse_number(m.group("num"))
    if n is None or not 0 < n < 100 or n != int(n):
        return None
    return Value(int(n), approx or bool(m.group("pre") or m.group("suf") or m.group("half")))


# ---------------------------------------------------------------- people

_PEOPLE = (r"(?:人(?!民币|社|家)|工人|农民工|民工|老乡|工友|兄弟|弟兄|师傅|伙计|户|小工|大工|瓦工|木工|钢筋工|电工|焊工|"
           r"架子工|油漆工|力工)")
_HEADCOUNT = re.compile(
    rf"{_APPROX_PRE}(?P<num>{NUM}){_APPROX_SUF}(?:个|名|位|口|号)?(?P<suf2>多)?(?:{_PEOPLE})(?P<around>左右)?"
    rf"|(?P<grp>我们|俺们|咱们|咱|俺|我)(?:和|跟|与)?[^\d#,，。!！?？ ]{{0,6}}?"
    rf"(?:一共|总共|共)?(?P<gnum>{NUM})(?P<gsuf>多|来)?个(?!月)"
    # The official word order, workers first: "涉及工人十五名", "工人有二十六名", "农民工四十余名".
    rf"|(?:工人|农民工|民工|工友)(?:有|共|共计|合计|涉及)?(?P<rpre>{_APPROX_WORDS})?(?P<rnum>{NUM})(?P<rsuf>多|余|来)?"
    rf"(?:名|位|个人|人(?!民币))"
)
# Relatives named instead of counted: "欠我和我哥", "俺跟俺爹", "我们两口子" are two workers.
_KIN = r"(?:大|二|三|小)?(?:哥|弟|姐|妹)|爸|爹|妈|娘|老公|老婆|媳妇|爱人|对象|儿子|闺女|女儿|侄子|外甥|兄弟|表哥|表弟|堂哥|堂弟|叔|舅|姐夫|妹夫"
_KIN_GROUP = re.compile(rf"(?:我|俺)(?:和|跟|与|带着?)(?P<kin>(?:(?:我|俺)家?的?(?:{_KIN})[和跟、]?)+)|(?P<couple>两口子|夫妻俩|夫妻两个)")
_KIN_WORD = re.compile(rf"(?:我|俺)家?的?(?:{_KIN})")
# "每人三千", "一个人欠了6000": the amount that follows is per person (and "一人" is not a headcount of one);
# "我一个人1万2" is one worker.
_PER_PERSON = re.compile(rf"(?:每个?人|每个|每位|每名|(?<![我俺己])一个?人|人均)(?:都|各|平均)?被?(?:欠了?|差了?|是|有|拖了?|少了?)?"
                         rf"(?=(?:{_APPROX_WORDS})?{NUM})")
_GROUP = re.compile(r"我们|俺们|咱们|大家|大伙|兄弟们|工友们|老乡们|工人们|班组|一帮|一伙|一群|全体|所有人|几个人|好几个|"
                    r"集体|他们几个|十几|几十")
_SINGULAR = re.compile(r"我|俺")
_TOTAL_CUE = re.compile(r"(?:一共|总共|合计|共计|总计|加起来|总额|总数|共)[是有欠了 ]{0,3}$")


def _read_people(text: str) -> tuple[Value[int] | None, bool]:
    best: Value[int] | None = None
    unknown = False
    for m in _KIN_GROUP.finditer(text):
        best = Value(2 if m.group("couple") else 1 + len(_KIN_WORD.findall(m.group("kin"))))
    for m in _HEADCOUNT.finditer(text):
        raw = m.group("num") or m.group("gnum") or m.group("rnum")
        n, approx = _parse_number(raw)
        if n is None:
            unknown = unknown or raw.startswith("几")
            continue
        if not 0 < n < 100000 or n != int(n):
            continue
        approx = approx or any(m.group(g) for g in ("pre", "suf", "suf2", "around", "gsuf", "rpre", "rsuf"))
        value = Value(int(n), approx)
        if best is None or value.value > best.value:
            best = value
    return best, unknown


# ---------------------------------------------------------------- money

_AMOUNT = re.compile(
    rf"{_APPROX_PRE}(?P<num>{NUM})(?:(?P<suf>多|余|来)(?P<mult>[万千百])?)?"
    r"(?: ?(?P<unit>w(?![a-z])|k(?![a-z])|块钱|块|元|圆|rmb|yuan))?"
    r"(?P<suf2>多|左右|上下|出头)?"
)
_MONEY_CUE = re.compile(r"(?:欠|工钱|工资|钱|薪|拖|差|结|要|还|押金|共|合计|计|给|是|剩|有)[^#\d]{0,4}$")
_RATE_BEFORE = re.compile(r"(?:一个月|每个?月|月薪|一天|每天|日薪|天|一个工|一工|一平|每平)[是给 ]{0,2}$")
_RATE_AFTER = re.compile(rf" ?(?:工资|工钱|给|是)?{NUM}")
_MAX_AMOUNT = 1_000_000_000
_MULTIPLIER = {"w": 10000, "万": 10000, "k": 1000, "千": 1000, "百": 100}


def _read_amounts(text: str, per_person_at: set[int]) -> tuple[Value[int] | None, Value[int] | None]:
    totals: list[tuple[bool, Value[int]]] = []
    per_person: Value[int] | None = None
    for m in _AMOUNT.finditer(text):
        num = m.group("num")
        n, approx = _parse_number(num)
        unit = m.group("unit")
        if n is None:
            continue
        n *= _MULTIPLIER.get(m.group("mult") or unit, 1)  # "四十多万", "3w"
        before = text[max(0, m.start() - 8):m.start()]
        each = m.start() in per_person_at
        money_shaped = each or unit is not None or any(u in num for u in "万千") or m.group("mult") or (
            any(u in num for u in "百") and _MONEY_CUE.search(before))
        if not (money_shaped or (_MONEY_CUE.search(before) and n >= 100)):
            continue
        if not 10 <= n < _MAX_AMOUNT or _RATE_BEFORE.search(before):
            continue
        approx = approx or bool(m.group("pre") or m.group("suf") or m.group("suf2"))
        value = Value(int(round(n)), approx)
        if each:
            per_person = per_person or value
        else:
            totals.append((bool(_TOTAL_CUE.search(before)), value))
    if not totals:
        return None, per_person
    marked = [v for is_total, v in totals if is_total]
    # Several amounts and no 一共: take the largest, never the sum ("欠三万五，先给了一万" must not become 45000).
    return (marked[0] if marked else max((v for _, v in totals), key=lambda v: v.value)), per_person


# ---------------------------------------------------------------- employer

_SURNAMES = ("张王李赵刘陈杨黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡杜叶程苏魏吕丁任沈"
             "姚卢姜崔钟谭陆汪范石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵严武戴孔汤庞葛颜")
_PERSON = re.compile(
    rf"(?:姓(?P<s1>[{_SURNAMES}])的(?:那个)?(?P<r1>包工头|工头|老板|老总|经理|项目经理|班长|班组长|队长))"
    rf"|(?P<r2>包工头|工头|老板|项目经理|班长|班组长|队长)(?:叫|是)?"
    rf"(?P<n2>老[{_SURNAMES}]|[{_SURNAMES}](?:某某|某|[\u4e00-\u9fff]{{1,2}}?(?=欠|拖|跑|不|说|的|他|那|,|，|。| |$)))"
    rf"|(?P<r4>包工头|工头|老板|老总|经理|项目经理|班长|队长)姓(?P<s4>[{_SURNAMES}])"
    rf"|(?<![{_SURNAMES}])(?P<n3>[{_SURNAMES}])(?P<r3>老板|老总|总(?![共计额数])|经理|工头|包工头|队长|班长)"
)
_ORG_SUFFIX = re.compile(r"(?:有限责任公司|股份有限公司|有限公司|分公司|集团公司|集团|公司|项目部|工程队|施工队|劳务队)")
_ORG_STOP = re.compile(r".*(?:那个|这个|那家|这家|一个|就是|在|给|是|被|欠|帮|替|找|跟|了|们|的|说|叫|我|俺|他|干|向|对|把|从|个|和)")
_CJK_RUN = re.compile(r"[\u4e00-\u9fffa-z0-9()]{1,20}$")


def _read_employer(text: str) -> str | None:
    """The most specific party named: a named company or project office, then a named person. A role alone
    (老板, 包工头, 劳务公司 ...) names nobody and gives None (see intake.reading.names)."""
    for m in _ORG_SUFFIX.finditer(text):
        run = _CJK_RUN.search(text, 0, m.start())
        core = run.group(0) if run else ""
        cut = _ORG_STOP.match(core)
        if cut:
            core = core[cut.end():]
        core = core.lstrip("0123456789")
        if not is_named(core + m.group(0)):
            continue
        return core + m.group(0)
    m = _PERSON.search(text)
    if m:
        if m.group("s1"):
            return m.group("s1") + m.group("r1")
        if m.group("r2"):
            return m.group("r2") + m.group("n2")
        if m.group("s4"):
            return m.group("s4") + m.group("r4")
        return m.group("n3") + m.group("r3")
    return None


# ---------------------------------------------------------------- risk

@lru_cache(maxsize=8)
def _risk_table(words: tuple[tuple[str, str], ...]) -> dict[str, tuple[str, ...]]:
    table: dict[str, list[str]] = {}
    for category, word in words:
        table.setdefault(category, []).append(_normalise(word))
    return {category: tuple(terms) for category, terms in table.items()}


def _read_risk(text: str, words: tuple[tuple[str, str], ...]) -> dict[str, tuple[str, ...]]:
    """Risk words by category; data for the router and supervisors, never a reason to refuse."""
    compact = text.replace(" ", "")
    found = {}
    for cat, terms in _risk_table(words).items():
        hits = sorted((t for t in terms if t in compact), key=compact.find)
        words = tuple(t for t in hits if not any(t != o and t in o for o in hits))  # "横幅" inside "拉横幅"
        if words:
            found[cat] = words
    return found


# ---------------------------------------------------------------- place

_HOMETOWN_BEFORE = re.compile(r"(?:老家|家是|俺是|我是|家在|老家是)$")
_SITE_NOISE = re.compile(r"工地|项目部|项目|小区|工程|那个|这个|临沂市|临沂|山东省|山东")


@lru_cache(maxsize=16)
def _town_matcher(counties: tuple[CountyRef, ...]) -> tuple[re.Pattern[str], dict[str, str]]:
    alias = {_normalise(t): c.code for c in counties for t in c.towns if t}
    ordered = sorted(alias, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, ordered)) or r"(?!)"), alias


def _read_county(text: str, counties: tuple[CountyRef, ...]) -> str | None:
    """First county named where the work is, else the county of the first town or street office named;
    "沂水人" or "老家沂南" is where the worker is from."""
    for pattern, alias in (_county_matcher(counties), _town_matcher(counties)):
        for m in pattern.finditer(text):
            if text.startswith("人", m.end()) or _HOMETOWN_BEFORE.search(text, 0, m.start()):
                continue
            return alias[m.group(0)]
    return None


_CN_DIGITS = str.maketrans("零一二两三四五六七八九", "01223456789")


def _site_key(s: str) -> str:
    """Compare site names the way people say them: digits for numerals, no 工地/项目/小区 noise, no spaces."""
    return _SITE_NOISE.sub("", _normalise(s).replace(" ", "").translate(_CN_DIGITS))


SITE_THRESHOLD = 75.0
SITE_MARGIN = 5.0
MAX_SITE_CHOICES = 4  # more sites than this fitting equally is no choice to put to a worker
_PHASE = re.compile(r"\d+(?:期|号楼|标段|号地块)$")


_CONTRACTOR_NOISE = re.compile(r"^(?:山东省?|临沂市?|沂蒙)|有限责任公司|股份有限公司|有限公司|分公司|集团|公司|建筑|建设|建工|"
                               r"工程|劳务|第[\d一二三四五六七八九十]+|[(][^)]*[)]")


@lru_cache(maxsize=4096)
def _site_candidates(site: SiteRef, counties: tuple[CountyRef, ...]) -> tuple[tuple[str, float], ...]:
    """(key, penalty) pairs: the full name and each alias; the name without its phase ("阳光城" for 阳光城三期),
    which cannot tell phases apart and so scores lower; the address (its town or street, road), weaker evidence
    than a name; the general contractor's distinctive words ("华建" for 临沂华建建筑有限公司), weaker still, as a
    contractor builds several sites."""
    pattern, _ = _county_matcher(counties)

    def key(text: str) -> str:
        return pattern.sub("", _site_key(text)) or _site_key(text)

    name = key(site.name)
    core = _PHASE.sub("", name)
    address = pattern.sub("", _site_key(site.address))
    contractor = key(_CONTRACTOR_NOISE.sub("", _normalise(site.contractor)))
    out = [(name, 0.0)] + [(key(alias), 0.0) for alias in site.aliases]
    if core != name and len(core) >= 3:
        out.append((core, 8.0))
    if len(address) >= 4:
        out.append((address, 5.0))
    if len(contractor) >= 2:
        out.append((contractor, 10.0))
    return tuple(out)


def _match_site(text: str, sites: tuple[SiteRef, ...], county: str | None,
                counties: tuple[CountyRef, ...]) -> tuple[SiteMatch | None, tuple[SiteRef, ...], str | None]:
    """Best site, or the sites too close to call, and the county when the close calls all share one."""
    key = _site_key(text)
    scored: list[tuple[float, SiteRef]] = []
    for site in sites:
        if county is not None and site.county_code != county:
            continue
        score = max((fuzz.partial_ratio(k, key) - penalty for k, penalty in _site_candidates(site, counties)
                     if len(k) >= 2), default=0.0)
        scored.append((score, site))
    scored.sort(key=lambda p: p[0], reverse=True)
    if not scored or scored[0][0] < SITE_THRESHOLD:
        return None, (), None
    best_score, best = scored[0]
    close = tuple(s for score, s in scored if best_score - score < SITE_MARGIN)
    if len(close) > 1:
        shared = {s.county_code for s in close}
        return None, close, shared.pop() if len(shared) == 1 else None
    return SiteMatch(best.id, round(best_score, 1)), (), best.county_code


# ---------------------------------------------------------------- entry point

_PLACE = re.compile(r"[\u4e00-\u9fffA-Za-z0-9]{2,20}?(?:(?:广场|大厦|花园)?(?:工地|项目部|项目|小区|工程)|广场|大厦|花园)"
                    r"(?:[一二三四五六七八九十\d]+期)?")
_PLACE_LEAD = re.compile(r"^(?:.*?(?:区|县|市|镇|乡))?(?:我们|我|在|的|是|去|那个|这个|老板|之前|以前)*")
_CLAUSE = re.compile(r"[，,。.;；!！?？\s]+")


def place_words(text: str) -> str | None:
    """A site as the worker named it ("万达广场工地"), for a site the registry does not know: kept in their words
    so staff see what was said. None when no clause names one ("我在工地干活" names no place)."""
    for clause in _CLAUSE.split(text or ""):
        found = _PLACE.search(clause)
        if found:
            place = _PLACE_LEAD.sub("", found.group(0))
            if len(_SITE_NOISE.sub("", place)) >= 2:
                return place
    return None


def extract_claim(text: str, sites: Iterable[SiteRef] | None = None,
                  counties: Iterable[CountyRef] | None = None,
                  risk_words: Iterable[tuple[str, str]] = RISK_WORDS) -> ClaimDraft:
    """Read one complaint message. Never raises on odd input; an unreadable message gives an empty draft.

    risk_words: (category, word) pairs, the configured `[reading]` list (default: the shipped one)."""
    draft = ClaimDraft()
    if not isinstance(text, str):  # e.g. a voice message whose Recognition field was absent
        return draft
    norm = _normalise(text)
    if not norm:
        return draft
    county_refs = _default_counties() if counties is None else tuple(counties)
    site_refs = None if sites is None else tuple(sites)

    draft.risk_terms = _read_risk(norm, tuple(risk_words))
    draft.risk_flags = tuple(draft.risk_terms)
    draft.employer = _read_employer(norm)
    draft.county_code = _read_county(norm, county_refs)
    if site_refs:
        draft.site, close, site_county = _match_site(norm, site_refs, draft.county_code, county_refs)
        draft.site_ambiguous = bool(close)
        if len(close) <= MAX_SITE_CHOICES:
            draft.site_choices = tuple(SiteChoice(s.id, s.name) for s in close)
        draft.county_code = draft.county_code or site_county

    work = _mask_all(norm, _IDS)
    draft.months, draft.period, work = _read_period(work)
    work = _mask_all(work, _OTHER_UNITS)

    per_person_at: set[int] = set()
    for m in _PER_PERSON.finditer(work):
        per_person_at.add(m.end())
        work = _mask(work, m.start(), m.end())
    draft.workers, unknown = _read_people(work)
    work = _mask_all(work, _HEADCOUNT)
    if draft.workers is None:
        if unknown or _GROUP.search(norm):
            draft.group_unknown_size = True
        elif _SINGULAR.search(norm) and not per_person_at:
            draft.workers = Value(1)

    draft.amount, draft.amount_per_person = _read_amounts(work, per_person_at)
    if draft.amount is None and draft.amount_per_person is not None and draft.workers is not None:
        pp, w = draft.amount_per_person, draft.workers
        draft.amount = Value(pp.value * w.value, pp.approximate or w.approximate)
    return draft
