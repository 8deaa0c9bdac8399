"""A case's documents on paper: the order to pay as a PDF, the dossier as a ZIP (its PDF, every evidence file and
its original as received, a manifest with each one's SHA-256 beside the one the case's chain sealed, and SHA256SUMS
for `sha256sum -c`).
The content comes from intake.enforcement.dossier; this module only lays it out."""
from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import datetime

from flask import Response, make_response

from intake.enforcement.dossier import Dossier, DossierFile, OrderPaper
from paper import Document, Fields, Heading, Paragraph, Signatures, Table, document_pdf

PDF_NAME, MANIFEST_NAME, SUMS_NAME = "dossier.pdf", "manifest.json", "SHA256SUMS"


def order_pdf(order: OrderPaper, font_path: str) -> bytes:
    basis = "《保障农民工工资支付条例》《劳动保障监察条例》第二十六条"
    doc = Document(
        title="限期改正指令书", issuer=order.department, reference=order.reference,
        footer=f"案件 {order.ticket_no}", subject="责令限期支付工资",
        blocks=[
            Paragraph(f"{order.employer}："),
            Paragraph(f"经查，你单位拖欠{order.project}农民工工资共计 {order.amount:,} 元。依据{basis}的规定，"
                      f"现责令你单位于 {order.due} 前足额支付上述工资，并将支付凭证报送本部门。"),
            Paragraph(f"逾期不支付的，本部门将责令你单位按应付金额的 {order.compensation_percent}% 加付赔偿金；"
                      "情节严重的，依照《中华人民共和国刑法》第二百七十六条之一移送公安机关。"),
            Fields([("案件编号", order.ticket_no), ("投诉人", order.complainant), ("项目", order.project),
                    ("应付金额", f"{order.amount:,} 元"), ("支付期限", order.due), ("签发日期", order.issued),
                    ("当前状态", order.state)]),
            Signatures(["经办人", "被责令单位签收", "签收日期"]),
        ])
    return document_pdf(doc, font_path)


def dossier_pdf(dossier: Dossier, font_path: str) -> bytes:
    findings = "；".join(dossier.findings) if dossier.findings else "未发现不符：每条记录的哈希与存证链一致，每个文件的 SHA-256 与登记一致。"
    blocks = [
        Heading("一、基本情况"), Fields(dossier.facts),
        Heading("二、工人明细"),
        Table(["姓名", "欠薪", "已发放"], dossier.claim_lines, [2, 1, 1]) if dossier.claim_lines
        else Paragraph("无工人明细。"),
        Heading("三、限期支付令"),
        Table(["用人单位", "金额", "期限", "结果", "加付赔偿金"], dossier.orders, [3, 2, 3, 2, 2]) if dossier.orders
        else Paragraph("未发出限期支付令。"),
        Heading("四、办理记录（按存证链顺序）"),
        Table(["序号", "时间", "事项", "经办", "说明", "哈希"],
              [(place, when, what, who, note, digest[:16]) for place, when, what, who, note, digest
               in dossier.timeline], [1, 3, 3, 3, 4, 3]),
        Heading("五、证据文件"),
        *([Paragraph(f"{f.path}（原名 {f.filename}，{f.received}收到，存证序号 {f.chain_index or '—'}）\n"
                     f"SHA-256：{f.sha256}\n{_original_line(f)}") for f in dossier.files]
          or [Paragraph("没有证据文件。")]),
        Heading("六、存证核验"),
        Paragraph(f"存证链末条哈希：{dossier.chain_head or '（无）'}"), Paragraph(f"核验结果：{findings}"),
    ]
    title = "案件材料（本人留存）" if dossier.for_worker else "案件卷宗"
    return document_pdf(Document(title=title, issuer=dossier.department, reference=f"案件 {dossier.ticket_no}",
                                 footer=f"案件 {dossier.ticket_no}", blocks=blocks), font_path)


def _original_line(file: DossierFile) -> str:
    original = file.original
    if original is None:
        return "原件：未附（保存原件之前收到，或原件无法解密，见存证核验）"
    if original.same_as_cleaned:
        return "原件：与上述文件相同（收到时未作处理）"
    return f"原件（收到时的原样，含照片元数据）：{original.path}\nSHA-256：{original.sha256}"


def _manifest_original(file: DossierFile) -> dict | None:
    original = file.original
    if original is None:
        return None
    return {"path": original.path, "size": len(original.content or file.content), "sha256": original.sha256,
            "sealed_sha256": original.sealed_sha256, "matches_chain": original.sha256 == original.sealed_sha256,
            "same_as_cleaned": original.same_as_cleaned}


def dossier_zip(dossier: Dossier, font_path: str, generated_at: datetime) -> bytes:
    pdf = dossier_pdf(dossier, font_path)
    originals = [f.original for f in dossier.files if f.original is not None and not f.original.same_as_cleaned]
    manifest = {
        "ticket_no": dossier.ticket_no, "generated_at": generated_at.isoformat(), "chain_head": dossier.chain_head,
        "chain_findings": dossier.findings,
        "dossier": {"path": PDF_NAME, "sha256": hashlib.sha256(pdf).hexdigest()},
        "files": [{"path": f.path, "attachment_id": f.attachment_id, "filename": f.filename, "size": len(f.content),
                   "sha256": f.sha256, "sealed_sha256": f.sealed_sha256, "chain_index": f.chain_index,
                   "matches_chain": f.sha256 == f.sealed_sha256, "received_at": f.received_at,
                   "original": _manifest_original(f)} for f in dossier.files],
    }
    sums = "".join(f"{digest}  {path}\n" for digest, path in
                   [(manifest["dossier"]["sha256"], PDF_NAME), *((f.sha256, f.path) for f in dossier.files),
                    *((o.sha256, o.path) for o in originals)])
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(PDF_NAME, pdf)
        for path, content in [*((f.path, f.content) for f in dossier.files), *((o.path, o.content) for o in originals)]:
            archive.writestr(path, content)
        archive.writestr(MANIFEST_NAME, json.dumps(manifest, ensure_ascii=False, indent=2))
        archive.writestr(SUMS_NAME, sums)
    return buffer.getvalue()


def download(body: bytes, mimetype: str, filename: str) -> Response:
    """A document to save, kept out of shared caches (it names a worker's case)."""
    response = make_response(body)
    response.headers["Content-Type"] = mimetype
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
