"""Write the binary input fixtures once (they are committed; run again only
to change them): a UTF-16LE CSV with BOM, a Windows-1252 CSV, an ODS and an
XLS workbook. The XLS needs the `xlwt` package (pure Python)."""
import os, zipfile

here = os.path.dirname(os.path.abspath(__file__))
p = lambda n: os.path.join(here, n)

rows = [["id", "group", "text"],
        ["1", "AA", "My sponsor keeps me sober"],
        ["2", "NA", "Meetings every day"],
        ["3", "AA", "Café after the meeting, still sober"],
        ["4", "NA", ""]]
csv_text = "".join(",".join(r[:2] + ['"' + r[2] + '"']) + "\r\n" for r in rows)
with open(p("utf16le_bom.csv"), "wb") as f:
    f.write(b"\xff\xfe" + csv_text.encode("utf-16-le"))
with open(p("windows1252.csv"), "wb") as f:
    f.write(csv_text.replace("Meetings every day", "“Meetings” every day").encode("cp1252"))

# ODS: a zip with an uncompressed `mimetype` first, a manifest and content.xml.
def cell(v):
    if isinstance(v, (int, float)):
        return f'<table:table-cell office:value-type="float" office:value="{v}"><text:p>{v}</text:p></table:table-cell>'
    return f'<table:table-cell office:value-type="string"><text:p>{v}</text:p></table:table-cell>' if v else '<table:table-cell/>'
ods_rows = [["Recovery survey (export)"], [], ["id", "group", "text"],
            [1, "AA", "My sponsor keeps me sober"], [2, "NA", "Meetings every day"],
            [3, "AA", "Café after the meeting, still sober"], [4, "NA", ""]]
body = "".join("<table:table-row>" + "".join(cell(v) for v in r) + "</table:table-row>" for r in ods_rows)
content = ('<?xml version="1.0" encoding="UTF-8"?>'
    '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
    '<office:body><office:spreadsheet><table:table table:name="Answers">' + body +
    '</table:table></office:spreadsheet></office:body></office:document-content>')
manifest = ('<?xml version="1.0" encoding="UTF-8"?>'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    '</manifest:manifest>')
with zipfile.ZipFile(p("answers.ods"), "w") as z:
    z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
    z.writestr("META-INF/manifest.xml", manifest, zipfile.ZIP_DEFLATED)
    z.writestr("content.xml", content, zipfile.ZIP_DEFLATED)

import xlwt
wb = xlwt.Workbook(encoding="utf-8")
ws = wb.add_sheet("Notes")
ws.write(0, 0, "see the next sheet")
ws = wb.add_sheet("Answers")
for i, r in enumerate(rows):
    for j, v in enumerate(r):
        ws.write(i, j, float(v) if j == 0 and i > 0 else v)
wb.save(p("answers.xls"))
