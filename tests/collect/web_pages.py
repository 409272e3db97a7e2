"""Web inputs for the collection tests: HTML pages and WARC/WET files written with warcio."""

from __future__ import annotations

import io
import re
from pathlib import Path

EN_1 = """The river town of Millbrook spent most of the winter arguing about its old stone bridge. Engineers
said that the arches were sound, but the road above them had cracked after years of heavy trucks. At a
long meeting in the library, residents agreed to close the bridge to lorries and to repair the surface
before the spring floods. The mayor promised that the work would be finished by April, and that a
temporary footpath would keep the market open. Shop owners were relieved, because the bridge carries
most of their customers from the farms on the other side of the water. A local historian reminded
everyone that the bridge has survived three great floods since it was built, and that it deserves the
same care that earlier generations gave it."""

EN_2 = """Learning to bake bread at home is mostly a matter of patience. The dough needs time to rise, and
the flavour improves when it rests overnight in a cool kitchen. Start with good flour, water, salt and a
small amount of yeast, then mix until no dry flour remains. Fold the dough a few times during the first
hours instead of kneading it hard. When it has doubled in size, shape it gently into a round loaf and
let it rise again in a basket dusted with flour. Bake it in a very hot oven inside a covered pot, which
traps the steam and gives the crust its colour. Wait until the loaf has cooled before you cut it, or the
crumb will be gummy and dense."""

EN_3 = """Astronomers have found a small planet orbiting a quiet red dwarf about forty light years from the
Sun. The planet is slightly larger than the Earth and completes one orbit in eleven days, so its year is
shorter than a month on our calendar. Because red dwarfs are cool, the planet may still receive a
moderate amount of light, and some researchers think that water could exist on its surface. Other
scientists are more cautious, since such stars often release violent flares that could strip away an
atmosphere. New telescopes will study the light that passes through the edge of the planet during each
transit, which should reveal whether it has air at all and what that air is made of."""

DE_1 = """Die kleine Stadt am Fluss hat den ganzen Winter über ihre alte Steinbrücke gestritten. Die
Ingenieure sagten, dass die Bögen stabil seien, aber die Straße darüber war nach vielen Jahren mit
schweren Lastwagen gerissen. Bei einer langen Versammlung in der Bibliothek einigten sich die Bewohner
darauf, die Brücke für Lastwagen zu sperren und die Oberfläche vor dem Frühjahrshochwasser zu
reparieren. Der Bürgermeister versprach, dass die Arbeiten bis April abgeschlossen sein würden und dass
ein provisorischer Fußweg den Markt offen halten würde. Die Ladenbesitzer waren erleichtert, denn über
die Brücke kommen die meisten ihrer Kunden von den Bauernhöfen auf der anderen Seite des Wassers."""

FR_1 = """Apprendre à faire son pain à la maison est surtout une affaire de patience. La pâte a besoin de
temps pour lever, et le goût s'améliore lorsqu'elle repose toute une nuit dans une cuisine fraîche.
Commencez avec une bonne farine, de l'eau, du sel et une petite quantité de levure, puis mélangez
jusqu'à ce qu'il ne reste plus de farine sèche. Rabattez la pâte plusieurs fois pendant les premières
heures au lieu de la pétrir fortement. Quand elle a doublé de volume, façonnez doucement une boule et
laissez-la lever encore dans un panier fariné avant de la cuire dans un four très chaud."""

SPAM = "\n".join(["Buy cheap watches online now at the best price", "Click here for the best deals today"] * 20)


def html_page(title: str, text: str) -> str:
    paras = "".join(f"<p>{p}</p>" for p in re.split(r"(?<=\.)\s+", text) if p)
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title><meta charset='utf-8'></head><body>"
        f"<nav><a href='/'>Home</a> <a href='/about'>About us</a></nav>"
        f"<article><h1>{title}</h1>{paras}</article>"
        f"<footer>Copyright 2024 Example Media. All rights reserved.</footer></body></html>"
    )


def write_warc(path: Path, records: list[dict], gzip_: bool = True) -> Path:
    """A WARC file written with warcio; each record: url, date, and html (str), body+ctype, or text (WET)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=gzip_)
        for rec in records:
            warc_headers = {"WARC-Date": rec["date"]}
            if "text" in rec:  # WET conversion record
                warc_headers["WARC-Identified-Content-Language"] = "eng"
                r = writer.create_warc_record(
                    rec["url"],
                    "conversion",
                    payload=io.BytesIO(rec["text"].encode()),
                    warc_content_type="text/plain",
                    warc_headers_dict=warc_headers,
                )
            else:
                body = rec["html"].encode("utf-8") if "html" in rec else rec["body"]
                ctype = "text/html; charset=utf-8" if "html" in rec else rec["ctype"]
                http = StatusAndHeaders(rec.get("status", "200 OK"), [("Content-Type", ctype)], protocol="HTTP/1.1")
                if rec.get("request"):
                    req = writer.create_warc_record(
                        rec["url"],
                        "request",
                        payload=io.BytesIO(b""),
                        http_headers=StatusAndHeaders(
                            "GET / HTTP/1.1", [("Host", "example.org")], is_http_request=True
                        ),
                        warc_headers_dict=dict(warc_headers),
                    )
                    writer.write_record(req)
                r = writer.create_warc_record(
                    rec["url"], "response", payload=io.BytesIO(body), http_headers=http, warc_headers_dict=warc_headers
                )
            writer.write_record(r)
    return path


def near_copy(text: str) -> str:
    """The same page with one sentence changed."""
    return text.replace(
        "Wait until the loaf has cooled before you cut it",
        "Wait until the loaf has cooled completely before you cut it",
    )


def web_records() -> list[dict]:
    d = "2024-02-01T10:00:00Z"
    return [
        {
            "url": "https://news.example.org/bridge",
            "date": d,
            "html": html_page("Bridge repairs", EN_1),
            "request": True,
        },
        {"url": "https://food.example.org/bread", "date": d, "html": html_page("Home baking", EN_2)},
        {"url": "https://de.example.org/bruecke", "date": d, "html": html_page("Die Brücke", DE_1)},
        {"url": "https://fr.example.org/pain", "date": d, "html": html_page("Le pain", FR_1)},
        {"url": "https://mirror.example.net/bridge", "date": d, "html": html_page("Bridge repairs", EN_1)},
        {"url": "https://copy.example.net/bread", "date": d, "html": html_page("Home baking", near_copy(EN_2))},
        {"url": "https://spam.example.com/", "date": d, "html": html_page("Deals", SPAM)},
        {"url": "https://img.example.org/logo.png", "date": d, "body": b"\x89PNG\r\n\x1a\n....", "ctype": "image/png"},
        {"url": "https://gone.example.org/", "date": d, "html": html_page("Gone", EN_3), "status": "404 Not Found"},
        {"url": "https://old.example.org/planet", "date": "2023-05-01T10:00:00Z", "html": html_page("Planet", EN_3)},
    ]


def wet_records() -> list[dict]:
    d = "2024-02-02T10:00:00Z"
    return [
        {"url": "https://space.example.org/planet", "date": d, "text": EN_3},
        {"url": "https://de.example.org/wet", "date": d, "text": DE_1},
    ]
