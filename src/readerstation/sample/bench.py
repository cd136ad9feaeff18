"""Large synthetic CT series and studies for benchmarks (``bench/``).

The same phantom as the sample trial (body, organs, vessels, spine, liver lesions, noise), on any
grid, written one file per slice. Slices are rendered, encoded and written by worker processes in
contiguous chunks; every slice's noise is seeded by its index, so the files do not depend on the
number of workers.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydicom.pixels.encoders.base import get_encoder
from pydicom.uid import UID, ExplicitVRLittleEndian

from readerstation.errors import SampleDataError
from readerstation.sample.design import ContrastPhase, derive_trial_design
from readerstation.sample.phantom import PhaseAttenuation, SliceGrid, compute_hu_slice
from readerstation.sample.writer import (
    SUPPORTED_TRANSFER_SYNTAXES,
    CTSliceHeader,
    derive_uid,
    instance_file_names,
    save_dataset,
    to_ct_dataset,
    update_ct_slice,
)

__all__ = ["BenchSeries", "write_ct_series", "write_study"]

_ACQ = {
    ContrastPhase.NON_CONTRAST: (2, "NON-CON", 0),
    ContrastPhase.ARTERIAL: (3, "ARTERIAL", 215),
    ContrastPhase.PORTAL_VENOUS: (4, "PORTAL VENOUS", 250),
}


@dataclass(frozen=True)
class BenchSeries:
    """One written benchmark series.

    Parameters
    ----------
    folder : Path
        Where its files are.
    series_uid, study_uid : str
    n_files : int
    nbytes : int
        Total size of the files.
    seconds : float
        Wall time to write it.
    shape : tuple of int, (z, y, x)
    spacing : tuple of float, (z, y, x) mm
    transfer_syntax : str
    """

    folder: Path
    series_uid: str
    study_uid: str
    n_files: int
    nbytes: int
    seconds: float
    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    transfer_syntax: str

    def __repr__(self) -> str:
        return (
            f"BenchSeries(folder={str(self.folder)!r}, shape={self.shape}, spacing_mm="
            f"{self.spacing}, transfer_syntax={UID(self.transfer_syntax).name!r}, "
            f"n_files={self.n_files}, MB={self.nbytes / 1e6:.1f}, seconds={self.seconds:.2f})"
        )


@dataclass(frozen=True)
class _Job:
    folder: Path
    grid: SliceGrid
    first: int
    stop: int
    phase: ContrastPhase
    with_lesions: bool
    seed: int
    transfer_syntax: str
    patient_id: str
    study_uid: str
    series_uid: str
    for_uid: str
    series_number: int
    description: str
    acq_seconds: int


def _write_chunk(job: _Job) -> int:
    import datetime as dt

    grid = job.grid
    lesions = [s for _, s in derive_trial_design(1)[0].lesions_at(0)] if job.with_lesions else []
    att = PhaseAttenuation()
    names = instance_file_names(grid.n_slices)
    ox, oy = grid.origin_xy_mm
    acq = (dt.datetime(2000, 1, 1, 10, 0, 0) + dt.timedelta(seconds=job.acq_seconds)).time()
    ds = None
    total = 0
    phase_i = list(_ACQ).index(job.phase)
    for k in range(job.first, job.stop):
        z = grid.slice_z(k)
        hu = compute_hu_slice(grid, z, job.phase, lesions, attenuation=att,
                              seed=(job.seed, phase_i, k))  # fmt: skip
        sop = derive_uid(job.series_uid, k + 1)
        if ds is None:
            header = CTSliceHeader(
                patient_id=job.patient_id,
                study_uid=job.study_uid,
                series_uid=job.series_uid,
                sop_uid=sop,
                frame_of_reference_uid=job.for_uid,
                study_date=dt.date(2024, 1, 1),
                study_time=dt.time(9, 58, 0),
                acquisition_time=acq,
                phase=job.phase,
                bolus_start_time=(
                    None if job.phase is ContrastPhase.NON_CONTRAST else dt.time(10, 3, 0)
                ),
                series_number=job.series_number,
                instance_number=k + 1,
                series_description=job.description,
                study_description="BENCHMARK CT ABDOMEN",
                position_lps_mm=(ox, oy, z),
                pixel_spacing_mm=(grid.pixel_spacing_mm, grid.pixel_spacing_mm),
                slice_thickness_mm=grid.slice_thickness_mm,
            )
            ds = to_ct_dataset(header, hu)
        else:
            ds = update_ct_slice(ds, sop_uid=sop, instance_number=k + 1,
                                 position_lps_mm=(ox, oy, z), hu=hu)  # fmt: skip
        total += save_dataset(ds, job.folder / names[k], job.transfer_syntax)
    return total


def write_ct_series(
    out_dir: str | Path,
    *,
    shape: tuple[int, int, int] = (400, 512, 512),
    spacing: tuple[float, float, float] = (1.0, 0.7, 0.7),
    transfer_syntax: str = ExplicitVRLittleEndian,
    phase: ContrastPhase = ContrastPhase.PORTAL_VENOUS,
    seed: int = 0,
    study_uid: str | None = None,
    frame_of_reference_uid: str | None = None,
    series_number: int | None = None,
    patient_id: str = "BENCH-001",
    with_lesions: bool = True,
    workers: int = 2,
) -> BenchSeries:
    """Write one realistic-looking axial CT series, one file per slice (``0001.dcm`` ...).

    Parameters
    ----------
    out_dir : path-like
        Folder for the files (created; existing ``.dcm`` files in it are replaced).
    shape : tuple of int, (z, y, x)
        Slices, rows, columns.
    spacing : tuple of float, (z, y, x) mm
        Slice spacing (= thickness) and pixel spacing; rows and columns must share one spacing.
    transfer_syntax : str
        Explicit VR Little Endian, RLE Lossless, JPEG-LS Lossless or JPEG 2000 Lossless UID.
    phase : ContrastPhase
        Contrast phase (tags and attenuation).
    seed : int
        Noise seed; also enters the UIDs.
    study_uid, frame_of_reference_uid : str, optional
        To put several series in one study (default: derived from ``seed``).
    series_number : int, optional
        Defaults to 2, 3, 4 for non-contrast, arterial, portal venous.
    patient_id : str
        Trial-style code (PatientID and PatientName).
    with_lesions : bool
        Paint the sample responder's baseline liver lesions.
    workers : int
        Processes rendering, encoding and writing slices (1 = this process).

    Returns
    -------
    BenchSeries
    """
    t0 = time.perf_counter()
    nz, ny, nx = (int(v) for v in shape)
    dz, dy, dx = (float(v) for v in spacing)
    if abs(dy - dx) > 1e-9:
        raise SampleDataError(
            f"spacing (z, y, x) = {spacing}: the phantom needs square pixels (y == x); "
            "use one in-plane spacing."
        )
    if UID(transfer_syntax) not in SUPPORTED_TRANSFER_SYNTAXES:
        raise SampleDataError(
            f"transfer_syntax {transfer_syntax!r} is not one of "
            f"{[t.name for t in SUPPORTED_TRANSFER_SYNTAXES]}."
        )
    if (
        UID(transfer_syntax) != ExplicitVRLittleEndian
        and not get_encoder(transfer_syntax).is_available
    ):
        raise SampleDataError(
            f"No encoder for {UID(transfer_syntax).name} is installed (JPEG-LS needs pyjpegls, "
            "JPEG 2000 pylibjpeg-openjpeg); install it or benchmark another transfer syntax."
        )
    if workers < 1:
        raise SampleDataError(f"workers must be >= 1; received {workers}.")
    grid = SliceGrid(rows=ny, columns=nx, pixel_spacing_mm=dx, slice_thickness_mm=dz,
                     z_top_mm=25.0 + (nz - 1) / 2 * dz, n_slices=nz)  # fmt: skip
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for f in folder.glob("*.dcm"):
        f.unlink()
    key = ("bench", seed, shape, spacing, str(transfer_syntax))
    study = study_uid or derive_uid(*key, "study")
    number, suffix, acq = _ACQ[phase]
    series_uid = derive_uid(*key, phase.value, study, "series")
    base = _Job(
        folder=folder, grid=grid, first=0, stop=nz, phase=phase, with_lesions=with_lesions,
        seed=seed, transfer_syntax=str(transfer_syntax), patient_id=patient_id,
        study_uid=study, series_uid=series_uid,
        for_uid=frame_of_reference_uid or derive_uid(*key, "frame-of-reference"),
        series_number=series_number or number, description=f"Abd {dz:g}mm {suffix}",
        acq_seconds=acq,
    )  # fmt: skip
    n_chunks = min(nz, workers * 4) if workers > 1 else 1
    bounds = np.linspace(0, nz, n_chunks + 1).round().astype(int)
    jobs = [
        _Job(**{**base.__dict__, "first": int(a), "stop": int(b)})
        for a, b in itertools.pairwise(bounds)
        if b > a
    ]
    if workers == 1:
        nbytes = sum(_write_chunk(j) for j in jobs)
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            nbytes = sum(pool.map(_write_chunk, jobs))
    return BenchSeries(
        folder=folder,
        series_uid=series_uid,
        study_uid=study,
        n_files=nz,
        nbytes=nbytes,
        seconds=time.perf_counter() - t0,
        shape=(nz, ny, nx),
        spacing=(dz, dy, dx),
        transfer_syntax=str(transfer_syntax),
    )


def write_study(
    out_dir: str | Path,
    *,
    phases: Sequence[ContrastPhase] = (
        ContrastPhase.NON_CONTRAST,
        ContrastPhase.ARTERIAL,
        ContrastPhase.PORTAL_VENOUS,
    ),
    shape: tuple[int, int, int] = (400, 512, 512),
    spacing: tuple[float, float, float] = (1.0, 0.7, 0.7),
    transfer_syntax: str = ExplicitVRLittleEndian,
    seed: int = 0,
    patient_id: str = "BENCH-001",
    workers: int = 2,
) -> tuple[BenchSeries, ...]:
    """Write a multi-phase CT study: one series per phase under ``out_dir/<n>_<phase>/``,
    sharing one StudyInstanceUID and one FrameOfReferenceUID.

    Returns
    -------
    tuple of BenchSeries
    """
    if not phases:
        raise SampleDataError("write_study needs at least one phase.")
    key = ("bench-study", seed, shape, spacing, str(transfer_syntax))
    study = derive_uid(*key, "study")
    for_uid = derive_uid(*key, "frame-of-reference")
    out = Path(out_dir)
    return tuple(
        write_ct_series(
            out / f"{_ACQ[p][0]}_{p.value.lower()}",
            shape=shape,
            spacing=spacing,
            transfer_syntax=transfer_syntax,
            phase=p,
            seed=seed,
            study_uid=study,
            frame_of_reference_uid=for_uid,
            patient_id=patient_id,
            workers=workers,
        )
        for p in phases
    )
