"""Printable offline codes: 7-day credentials on an A4 sheet, a wallet card or a family sheet.

`offline.sheet` renders (PDF via fpdf2 with shipped fonts, PNG via pdftoppm), `offline.app` is
the print service (`create_app`), `offline.cli` adds `healthcode offline print|sample`.
See docs/offline.md.
"""
