"""Evidence photos lose their EXIF (GPS, camera, serial number) at intake unless the worker keeps the location."""
from __future__ import annotations

import io

from PIL import ExifTags, Image
from sqlalchemy import select

from intake.foundation.models import Attachment
from intake.reading.photos import check_photo
from tests.helpers import BLUE, RED, make_site, phone_photo, submit, ticket_of


def opened(content: bytes) -> Image.Image:
    return Image.open(io.BytesIO(content))


def close_to(pixel, colour) -> bool:
    return all(abs(a - b) < 40 for a, b in zip(pixel, colour))


def test_the_test_photo_really_carries_gps_and_camera_data():
    exif = opened(phone_photo()).getexif()
    assert exif.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N" and exif[ExifTags.Base.Make]


def test_gps_camera_and_comment_are_stripped_by_default():
    for kind in ("JPEG", "PNG"):
        kept = check_photo("iou.jpg", phone_photo(kind=kind), 10 ** 7).content
        assert not opened(kept).getexif() and b"HUAWEI" not in kept and b"SN-8848" not in kept
        assert b"zhang san" not in kept and opened(kept).size == (64, 48)


def test_the_orientation_is_applied_to_the_pixels():
    """Orientation 6: the camera was turned, the picture is shown turned a quarter clockwise."""
    image = opened(check_photo("iou.jpg", phone_photo(orientation=6), 10 ** 7).content)
    assert image.size == (48, 64) and not image.getexif()
    assert close_to(image.getpixel((24, 5)), RED) and close_to(image.getpixel((24, 58)), BLUE)


def test_a_worker_may_keep_the_location_and_nothing_else():
    kept = opened(check_photo("iou.jpg", phone_photo(), 10 ** 7, keep_location=True).content).getexif()
    gps = kept.get_ifd(ExifTags.IFD.GPSInfo)
    assert (gps[ExifTags.GPS.GPSLatitudeRef], gps[ExifTags.GPS.GPSLongitudeRef]) == ("N", "E")
    assert [float(x) for x in gps[ExifTags.GPS.GPSLatitude]] == [35.0, 3.0, 30.5]
    assert ExifTags.Base.Make not in kept and ExifTags.Base.BodySerialNumber not in kept


def test_the_web_form_strips_the_location_unless_the_box_is_ticked(client, session):
    url = f"/s/{make_site(session).public_token}"
    page = client.get(url).text
    assert "保留照片里的位置信息（可以帮助核实工地位置）" in page
    assert 'name="keep_location" type="checkbox" value="y">' in page  # not ticked
    ticket_of(submit(client, url, photos=[(phone_photo(), "欠条.jpg")]))
    ticket_of(submit(client, url, photos=[(phone_photo(), "欠条.jpg")], keep_location="y"))
    session.rollback()
    stripped, kept = (opened(a.content).getexif() for a in session.scalars(select(Attachment).order_by(Attachment.id)))
    assert not stripped.get_ifd(ExifTags.IFD.GPSInfo) and not stripped
    assert kept.get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitudeRef] == "N"
    assert ExifTags.Base.Model not in kept
