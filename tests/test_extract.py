"""Extraction of claims from workers' free text: the corpus of realistic messages, then the nasty cases."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from intake.reading.extract import ClaimDraft, CountyRef, SiteRef, Value, extract_claim, load_counties

DATA = Path(__file__).parent / "data"
CORPUS = tomllib.loads((DATA / "extract_corpus.toml").read_text("utf-8"))
STYLES = tomllib.loads((DATA / "extract_corpus_styles.toml").read_text("utf-8"))["cases"]
HELD_OUT = tomllib.loads((DATA / "extract_heldout.toml").read_text("utf-8"))["cases"]
SITES = tuple(SiteRef(**{**s, "aliases": tuple(s.get("aliases", ()))}) for s in CORPUS["sites"])


def _value(v: Value[int] | None) -> tuple[int | None, bool]:
    return (None, False) if v is None else (v.value, v.approximate)


def _actual(d: ClaimDraft) -> dict:
    amount, amount_approx = _value(d.amount)
    per_person, per_person_approx = _value(d.amount_per_person)
    workers, workers_approx = _value(d.workers)
    months, months_approx = _value(d.months)
    return {
        "amount": amount, "amount_approx": amount_approx,
        "per_person": per_person, "per_person_approx": per_person_approx,
        "workers": workers, "workers_approx": workers_approx, "group": d.group_unknown_size,
        "months": months, "months_approx": months_approx, "period": d.period,
        "county": d.county_code, "site": d.site.site_id if d.site else None, "site_ambiguous": d.site_ambiguous,
        "employer": d.employer, "risk": sorted(d.risk_flags),
    }


def _expected(case: dict) -> dict:
    keys = ("amount", "per_person", "workers", "months", "county", "site", "employer")
    out = {k: case.get(k) for k in keys}
    out |= {k: case.get(k, False) for k in ("amount_approx", "per_person_approx", "workers_approx",
                                              "months_approx", "group", "site_ambiguous")}
    out["risk"] = sorted(case.get("risk", ()))
    if "period" in case:
        out["period"] = case["period"]
    return out


def test_corpus():
    cases = CORPUS["cases"]
    assert len(cases) >= 60
    mismatches = []
    for i, case in enumerate(cases):
        want = _expected(case)
        got = _actual(extract_claim(case["text"], SITES))
        diff = {k: (want[k], got[k]) for k in want if want[k] != got[k]}
        if diff:
            mismatches.append(f"#{i} {case['text']!r}: " + ", ".join(f"{k} want {w!r} got {g!r}"
                                                                     for k, (w, g) in diff.items()))
    assert not mismatches, f"{len(mismatches)} of {len(cases)} cases differ:\n" + "\n".join(mismatches)


# One field is a number with its approximate flag, a place, the employer, the group flag or the risk categories.
_FIELDS = {"amount": ("amount", "amount_approx"), "per_person": ("per_person", "per_person_approx"),
           "workers": ("workers", "workers_approx"), "months": ("months", "months_approx"), "county": ("county",),
           "site": ("site", "site_ambiguous"), "employer": ("employer",), "group": ("group",), "risk": ("risk",),
           "period": ("period",)}


def _field_score(cases: list[dict]) -> tuple[int, int, list[str]]:
    """Fields right out of fields that either the case or the reading has (a field both leave empty is not
    counted: an empty message would otherwise score well), and what went wrong."""
    right = total = 0
    wrong = []
    for case in cases:
        want, got = _expected(case), _actual(extract_claim(case["text"], SITES))
        for name, keys in _FIELDS.items():
            if keys[0] not in want:
                continue
            w, g = tuple(want[k] for k in keys), tuple(got[k] for k in keys)
            if not any(w) and not any(g):
                continue
            total += 1
            if w == g:
                right += 1
            else:
                wrong.append(f"{case['text']!r}: {name} want {w} got {g}")
    return right, total, wrong


@pytest.mark.parametrize("name, cases, floor", [
    ("corpus", CORPUS["cases"] + STYLES, 0.97), ("held-out", HELD_OUT, 0.95),
])
def test_field_accuracy(name, cases, floor, capsys):
    """The share of fields read right, reported on every run; below the floor the reading has regressed."""
    right, total, wrong = _field_score(cases)
    with capsys.disabled():
        print(f"\nextract field accuracy, {name}: {right}/{total} = {right / total:.1%} ({len(cases)} messages)")
    assert right / total >= floor, "\n".join(wrong)


def test_styles_corpus_size():
    assert len(STYLES) >= 150 and len(HELD_OUT) >= 30
    assert not {c["text"] for c in HELD_OUT} & {c["text"] for c in CORPUS["cases"] + STYLES}


@pytest.mark.parametrize("text, amount", [
    ("三万五", 35000), ("3.5万", 35000), ("2万8", 28000), ("两万八千块", 28000), ("一万二", 12000),
    ("一万零五百", 10500), ("五千块钱", 5000), ("３５０００元", 35000), ("1,200元", 1200), ("工钱4000", 4000),
    ("欠了4千", 4000), ("3w", 30000), ("3W", 30000), ("三千五", 3500), ("三百五十块", 350), ("欠我1万2千5", 12500),
    ("欠我壹万元", 10000),
])
def test_amount_forms(text, amount):
    assert extract_claim(text).amount == Value(amount)


@pytest.mark.parametrize("text, amount", [
    ("八千多", 8000), ("10万多元", 100000), ("121万余元", 1210000), ("接近两万", 20000), ("三万左右", 30000),
    ("欠了三万几", 30000), ("一万几千块", 10000), ("五六万", 50000),
])
def test_approximate_amounts(text, amount):
    assert extract_claim(text).amount == Value(amount, approximate=True)


@pytest.mark.parametrize("text", [
    "我电话13812345678", "联系我 13812345678 老板欠钱", "身份证371302199001011234", "身份证37130219900101123x",
    "2024年3月", "3月15号开始干的", "2024.3.15", "我们8个人", "干了三个月", "干了120天", "住18楼",
    "阳光城三期", "千万别让老板跑了", "一分钱都没给", "五一之前给", "我今年52岁", "卡号6222021234567890123",
    "一天200", "每个月三千",
])
def test_not_amounts(text):
    assert extract_claim(text).amount is None


@pytest.mark.parametrize("text", ["13812345678 欠我3000", "欠我 138 1234 5678 3000块", "欠的钱有三千多点"])
def test_amount_beside_other_numbers(text):
    assert extract_claim(text).amount.value == 3000


@pytest.mark.parametrize("text, workers", [
    ("8个人", Value(8)), ("十几个人", Value(10, True)), ("接近六十人", Value(60, True)), ("42名农民工", Value(42)),
    ("我们三十多个工人", Value(30, True)), ("我和老乡5个", Value(5)), ("俺们仨", Value(3)), ("俺俩", Value(2)),
    ("我一个人", Value(1)), ("老板欠我钱", Value(1)), ("二十人左右", Value(20, True)),
])
def test_headcount(text, workers):
    assert extract_claim(text).workers == workers


def test_group_of_unknown_size():
    d = extract_claim("我们班组的工资 老板一直拖着")
    assert d.workers is None and d.group_unknown_size
    assert "workers" in d.missing()


@pytest.mark.parametrize("text, months, period", [
    ("三个月", Value(3), "三个月"), ("半年", Value(6), "半年"), ("一年多", Value(12, True), "一年多"),
    ("2024年3月到6月", Value(4), "2024年3月到6月"), ("三月到六月", Value(4), "三月到六月"),
    ("10月到3月", Value(6), "10月到3月"), ("2023年10月到2024年1月", Value(4), "2023年10月到2024年1月"),
    ("两个半月", Value(2, True), "两个半月"), ("去年的工资", None, "去年"), ("3月份到现在", None, "3月份到现在"),
])
def test_period(text, months, period):
    d = extract_claim(text)
    assert (d.months, d.period) == (months, period)


def test_per_person_without_workers_has_no_total():
    d = extract_claim("每人三千")
    assert d.amount_per_person == Value(3000) and d.amount is None and d.workers is None
    assert d.missing() == ("site_or_county", "workers")


def test_per_person_times_approximate_workers_is_approximate():
    d = extract_claim("我们十几个人 每人三千")
    assert d.amount == Value(30000, approximate=True)


def test_stated_total_wins_over_computed():
    d = extract_claim("8个人 每人三千 一共两万五")
    assert d.amount == Value(25000) and d.amount_per_person == Value(3000)


@pytest.mark.parametrize("text, code", [
    ("兰山", "371302"), ("兰山区", "371302"), ("高新区", "371371"), ("临沂高新区", "371371"), ("经开区", "371372"),
    ("临港", "371373"), ("临港经济开发区", "371373"), ("经济开发区", "371372"), ("费县", "371325"),
    ("临沂", None), ("临沂市", None), ("我是沂水人在罗庄干活", "371311"),
])
def test_county(text, code):
    assert extract_claim(text).county_code == code


def test_site_restricted_to_county():
    """阳光花园 (罗庄) and 阳光城 (兰山) share words; the county settles it."""
    assert extract_claim("罗庄的阳光花园", SITES).site.site_id == "S10"
    assert extract_claim("兰山阳光花园", SITES).site is None


def test_site_ambiguous_and_below_threshold():
    d = extract_claim("金色家园", SITES)
    assert d.site is None and d.site_ambiguous and d.county_code == "371324"
    assert extract_claim("一个不知道名字的工地", SITES).site is None


def test_sites_may_be_a_generator():
    d = extract_claim("阳光城三期", (s for s in SITES))
    assert d.site.site_id == "S01" and d.site.score >= 90 and d.county_code == "371302"


@pytest.mark.parametrize("text, employer", [
    ("老板欠钱", None), ("包工头跑了", None), ("张老板不给", "张老板"), ("王总说没钱", "王总"),
    ("临沂华建建筑公司欠薪", "临沂华建建筑公司"), ("给鑫盛劳务公司干的", "鑫盛劳务公司"), ("项目部不管", None),
    ("阳光城项目部说没钱", "阳光城项目部"), ("开发商没给钱", None), ("姓刘的包工头", "刘包工头"),
    ("找了劳务公司也不管", None), ("班组长说项目经理跑了", None),
    ("一周总共干了六天", None),
])
def test_employer(text, employer):
    assert extract_claim(text).employer == employer


def test_risk_flags_keep_their_words():
    d = extract_claim("不给钱就跳楼 我们去堵路拉横幅 找记者上抖音")
    assert d.risk_flags == ("self_harm", "mass_incident", "petition_media")
    assert d.risk_terms == {"self_harm": ("跳楼",), "mass_incident": ("堵路", "拉横幅"),
                            "petition_media": ("记者", "抖音")}


@pytest.mark.parametrize("text", [
    "", "   ", "\n\n", "😡😡😡🙏", "?!。，", "hello boss no money", "x" * 10_000,
    "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(10_000)), "1" * 5000, "万" * 3000, "几几几万千百",
    "\u200b\ufeff", "欠\n我\n钱",
])
def test_odd_input_never_raises(text):
    d = extract_claim(text, SITES)
    assert isinstance(d, ClaimDraft)


def test_empty_input_gives_empty_draft():
    assert extract_claim("") == ClaimDraft()
    assert extract_claim("😡😡😡") == ClaimDraft()


def test_load_counties_default_and_path(tmp_path):
    counties = load_counties()
    assert len(counties) == 15
    fei = next(c for c in counties if c.code == "371325")
    assert fei.name == "费县" and {"梁邱镇", "梁邱", "费城街道", "费城"} <= set(fei.towns)
    f = tmp_path / "city.toml"
    f.write_text('[[units]]\ncode = "999901"\nname = "测试区"\nshort_names = ["测试"]\ntowns = ["小河镇"]\n', "utf-8")
    (unit,) = load_counties(f)
    assert unit == CountyRef("999901", "测试区", ("测试",), ("小河镇", "小河"))
    assert extract_claim("在测试干活", counties=[unit]).county_code == "999901"
    assert extract_claim("小河的工地欠钱", counties=[unit]).county_code == "999901"


@pytest.mark.parametrize("text, code", [
    ("义堂镇的工地", "371302"), ("在义堂干活", "371302"), ("九曲那边", "371312"), ("册山街道", "371311"),
    ("大店镇欠薪", "371327"), ("梅家埠街道", "371372"), ("坪上镇", "371373"), ("马厂湖镇", "371371"),
    ("我是沂南的，在费县修路", "371325"), ("沂南县界湖街道", "371321"), ("费县，义堂镇", "371325"),
    ("老家大店，在罗庄干活", "371311"), ("地方镇", "371326"), ("这个地方欠钱", None), ("十字路口那个工地", None),
    ("高都镇", "371328"), ("高都街道", "371311"), ("高都", None),
])
def test_town_or_street_places_in_county(text, code):
    """A town alone is enough; a county named wins; an everyday word or a short form two units share is not."""
    assert extract_claim(text).county_code == code


def test_risk_words_come_from_configuration():
    extra = (("mass_incident", "去开发商家"),)
    assert extract_claim("明天去开发商家").risk_flags == ()
    d = extract_claim("明天去开发商家", risk_words=extra)
    assert d.risk_terms == {"mass_incident": ("去开发商家",)}
    assert extract_claim("不给就去政府").risk_terms == {"petition_media": ("去政府",)}

