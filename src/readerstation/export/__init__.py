"""Exports of the reads: DICOM SR TID 1500 (:mod:`.sr`), CSV and JSON tables (:mod:`.tables`),
CDISC SDTM TU/TR/RS (:mod:`.sdtm`).

Import the submodule you need (``from readerstation.export.sr import save_sr``): this package
imports nothing itself, so that the CLI and the store stay quick to start (highdicom takes a
second to import).
"""
