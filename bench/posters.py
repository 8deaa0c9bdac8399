"""Time a county batch of posters as one PDF against encoding the same QR codes alone.

Usage: python bench/posters.py [--count 500] [--workers N]
Target (from the issue): 1,000 posters in under 60 s.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import figures  # noqa: E402
from qr import PosterData, find_cjk_font, qr_png, write_posters_pdf  # noqa: E402

TARGET_COUNT, TARGET_SECONDS = 1000, 60.0
COUNTIES = ("兰山区", "罗庄区", "河东区", "沂南县", "郯城县", "临沂高新技术产业开发区")
INDUSTRIES = (("房屋建筑", "住房和城乡建设局"), ("公路工程", "交通运输局"), ("水利工程", "水利局"))


def synthetic_sites(count: int) -> list[PosterData]:
    """Varied sites; every seventh has a very long name and contractor to exercise wrapping."""
    sites = []
    for i in range(count):
        county = COUNTIES[i % len(COUNTIES)]
        industry, department = INDUSTRIES[i % len(INDUSTRIES)]
        long = i % 7 == 0
        sites.append(
            PosterData(
                site_code=f"3713{i % 30:02d}-{i:05d}",
                site_name=f"{county}第{i}号安置房建设项目" + ("（一期二标段含地下车库及配套道路管网工程）" * 4 if long else ""),
                qr_data=f"https://qingling.example.gov.cn/s/{i:08x}Qz{i * 7919 % 100000:05d}",
                address=f"山东省临沂市{county}沂蒙路{i}号",
                county_name=county,
                industry=industry,
                investment=("政府投资", "国有企业投资", "社会投资")[i % 3],
                owner=f"临沂城市发展建设投资集团第{i}项目公司",
                general_contractor="中国建筑第八工程局有限公司" * (5 if long else 1),
                labour_manager=f"王{i}",
                labour_manager_phone=f"138{i:08d}",
                industry_department=f"{county}{department}",
                industry_department_phone="0539-8123456",
                labour_inspection=f"{county}人力资源和社会保障局劳动保障监察大队",
                labour_inspection_phone="0539-8765432",
                minimum_wage="2200元/月" if i % 5 else None,
                pay_day="每月15日" if i % 4 else None,
                check_hint="查询进度：打开 https://qingling.example.gov.cn/status 输入受理编号和手机号后四位",
                city_name="临沂市",
            )
        )
    return sites


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--workers", type=int, default=None, help="render processes (default: one per CPU)")
    figures.add_option(parser)
    args = parser.parse_args()
    font = find_cjk_font()
    if font is None:
        sys.exit("no font with Chinese glyphs found (install fonts-wqy-microhei)")
    sites = synthetic_sites(args.count)

    start = time.perf_counter()
    for site in sites:
        qr_png(site.qr_data)
    qr_seconds = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "county.pdf")
        start = time.perf_counter()
        with open(path, "wb") as out:
            pages = write_posters_pdf(sites, font, out, workers=args.workers)
        pdf_seconds = time.perf_counter() - start
        size = os.path.getsize(path)

    print(f"font: {font}  cpus: {os.cpu_count()}  workers: {args.workers or os.cpu_count()}")
    print(f"QR codes alone (qr_png): {args.count} in {qr_seconds:.2f} s, {args.count / qr_seconds:.0f}/s")
    print(f"poster PDF batch: {pages} pages in {pdf_seconds:.2f} s, {pages / pdf_seconds:.1f} posters/s, "
          f"{size / 1e6:.1f} MB ({size / pages / 1e3:.0f} kB/page)")
    print(f"ratio poster/QR-only time: {pdf_seconds / qr_seconds:.1f}x")
    projected = pdf_seconds / pages * TARGET_COUNT
    verdict = "OK" if projected < TARGET_SECONDS else "TOO SLOW"
    print(f"projected {TARGET_COUNT} posters: {projected:.1f} s (target < {TARGET_SECONDS:.0f} s): {verdict}")
    figures.write(args.json, [
        figures.Figure("posters", f"{TARGET_COUNT} posters as one PDF (projected from {pages})", projected, "s", "<",
                       TARGET_SECONDS),
        figures.Figure("posters", "poster PDF time / QR codes alone", pdf_seconds / qr_seconds, "x")])


if __name__ == "__main__":
    main()
