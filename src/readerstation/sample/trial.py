"""Generate the sample trial: DICOM studies, ground truth and response-engine timelines.

Layout (``out`` is usually the repository's ``sample_dicom/``)::

    out/HCC-001/TP0_baseline/2_non_contrast/0001.dcm ...   the committed subject
    out/generated/HCC-002/TP1_week06/3_arterial/0001.dcm ...  generated on first run (git-ignored)
    out/ground_truth.json, out/timeline_recist.json, out/timeline_mrecist.json

Generation is idempotent: a series whose folder already holds exactly its expected files is left
alone; the JSON files are rewritten only when their content would change.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
from pydicom.uid import JPEGLSLossless

from readerstation.errors import SampleDataError
from readerstation.sample.design import (
    ContrastPhase,
    LesionRole,
    SubjectDesign,
    TimepointDesign,
    derive_trial_design,
)
from readerstation.sample.phantom import (
    PhaseAttenuation,
    SliceGrid,
    compute_hu_slice,
    compute_label_slice,
)
from readerstation.sample.truth import (
    MRECIST,
    RECIST_1_1,
    ResponseRules,
    TimepointSums,
    derive_best_overall_response,
    derive_timepoint_responses,
)
from readerstation.sample.writer import (
    CTSliceHeader,
    check_encoder_available,
    check_series_complete,
    derive_uid,
    instance_file_names,
    save_dataset,
    to_ct_dataset,
    update_ct_slice,
)

__all__ = [
    "DEFAULT_GRID",
    "SMALL_GRID",
    "GenerationSummary",
    "SeriesPlan",
    "derive_ground_truth",
    "derive_series_plans",
    "derive_timelines",
    "generate_trial",
    "subject_dir",
]

#: Grid of the sample trial: 256 x 256 at 1.5 mm, 61 slices of 2.5 mm (z +100 .. -50 mm).
DEFAULT_GRID = SliceGrid()
#: Reduced grid for tests: 96 x 96 at 4 mm, 35 slices of 5 mm (same z range).
SMALL_GRID = SliceGrid(rows=96, columns=96, pixel_spacing_mm=4.0, slice_thickness_mm=5.0,
                       n_slices=31)  # fmt: skip

#: Bump when the rendered pixels or headers change: existing series are then rewritten.
GENERATOR_VERSION = "readerstation.sample/1"
GENERATED_FOLDER = "generated"
GROUND_TRUTH_FILE = "ground_truth.json"
TIMELINE_FILES = {"recist": "timeline_recist.json", "mrecist": "timeline_mrecist.json"}

_PHASES: tuple[tuple[ContrastPhase, int, str, int], ...] = (
    # phase, series number, description suffix, acquisition seconds after 10:00:00
    (ContrastPhase.NON_CONTRAST, 2, "NON-CON", 0),
    (ContrastPhase.ARTERIAL, 3, "ARTERIAL", 180 + 35),
    (ContrastPhase.PORTAL_VENOUS, 4, "PORTAL VENOUS", 180 + 70),
)
_BOLUS_START = dt.time(10, 3, 0)
_STUDY_TIME = dt.time(9, 58, 0)


def subject_dir(out: Path, index: int, code: str) -> Path:
    """Folder of subject number ``index`` (0-based): the first at the top, others under
    ``generated/`` (git-ignored)."""
    return out / code if index == 0 else out / GENERATED_FOLDER / code


def _add_seconds(t: dt.time, s: int) -> dt.time:
    return (dt.datetime.combine(dt.date(2000, 1, 1), t) + dt.timedelta(seconds=s)).time()


def _grid_key(grid: SliceGrid) -> str:
    return "" if grid == DEFAULT_GRID else repr(grid)


@dataclass(frozen=True)
class SeriesPlan:
    """One series to write: where, which subject/timepoint/phase, its UIDs and headers."""

    subject_index: int
    subject: SubjectDesign
    timepoint: TimepointDesign
    phase: ContrastPhase
    series_number: int
    description: str
    acquisition_time: dt.time
    folder: Path
    study_uid: str
    series_uid: str
    frame_of_reference_uid: str
    grid: SliceGrid

    def sop_uid(self, instance_number: int) -> str:
        """SOPInstanceUID of slice ``instance_number`` (1-based)."""
        return derive_uid(self.series_uid, instance_number)

    def relative_folder(self, out: Path) -> str:
        """Folder relative to ``out`` with forward slashes."""
        return self.folder.relative_to(out).as_posix()


def derive_series_plans(
    out: Path, subjects: Iterable[SubjectDesign], grid: SliceGrid = DEFAULT_GRID
) -> list[SeriesPlan]:
    """Every series of the trial with its deterministic UIDs and folder."""
    plans = []
    gk = _grid_key(grid)
    for si, subj in enumerate(subjects):
        sdir = subject_dir(out, si, subj.code)
        for tp in subj.timepoints:
            study_uid = derive_uid(subj.code, tp.label, "study", gk)
            for_uid = derive_uid(subj.code, tp.label, "frame-of-reference", gk)
            for phase, number, suffix, secs in _PHASES:
                plans.append(
                    SeriesPlan(
                        subject_index=si,
                        subject=subj,
                        timepoint=tp,
                        phase=phase,
                        series_number=number,
                        description=f"Abd {grid.slice_thickness_mm:g}mm {suffix}",
                        acquisition_time=_add_seconds(dt.time(10, 0, 0), secs),
                        folder=sdir / tp.folder / f"{number}_{phase.value.lower()}",
                        study_uid=study_uid,
                        series_uid=derive_uid(subj.code, tp.label, phase.value, "series", gk),
                        frame_of_reference_uid=for_uid,
                        grid=grid,
                    )
                )
    return plans


@lru_cache(maxsize=512)
def _labels(grid: SliceGrid, z: float, body_scale: float) -> np.ndarray:
    return compute_label_slice(grid, z, body_scale=body_scale)


def _write_series(plan: SeriesPlan, transfer_syntax: str) -> int:
    """Render and write one series; returns bytes written."""
    grid = plan.grid
    subj = plan.subject
    tpi = plan.timepoint.index
    lesions = [s for _, s in subj.lesions_at(tpi)]
    att = PhaseAttenuation()
    plan.folder.mkdir(parents=True, exist_ok=True)
    phase_i = [p for p, *_ in _PHASES].index(plan.phase)
    total = 0
    ds = None
    ox, oy = grid.origin_xy_mm
    for k, name in enumerate(instance_file_names(grid.n_slices)):
        z = grid.slice_z(k)
        labels = _labels(grid, z, subj.body_scale)
        hu = compute_hu_slice(grid, z, plan.phase, lesions, labels=labels, attenuation=att,
                              seed=(subj.seed, tpi, phase_i, k))  # fmt: skip
        if ds is None:
            ds = to_ct_dataset(_header(plan, k, (ox, oy, z)), hu)
        else:
            ds = update_ct_slice(ds, sop_uid=plan.sop_uid(k + 1), instance_number=k + 1,
                                 position_lps_mm=(ox, oy, z), hu=hu)  # fmt: skip
        total += save_dataset(ds, plan.folder / name, transfer_syntax)
    return total


def _header(plan: SeriesPlan, k: int, position: tuple[float, float, float]) -> CTSliceHeader:
    subj, grid, tpi = plan.subject, plan.grid, plan.timepoint.index
    return CTSliceHeader(
        patient_id=subj.code,
        study_uid=plan.study_uid,
        series_uid=plan.series_uid,
        sop_uid=plan.sop_uid(k + 1),
        frame_of_reference_uid=plan.frame_of_reference_uid,
        study_date=plan.timepoint.study_date,
        study_time=_STUDY_TIME,
        acquisition_time=plan.acquisition_time,
        phase=plan.phase,
        bolus_start_time=None if plan.phase is ContrastPhase.NON_CONTRAST else _BOLUS_START,
        series_number=plan.series_number,
        instance_number=k + 1,
        series_description=plan.description,
        study_description="CT ABDOMEN LIVER 3 PHASE",
        position_lps_mm=position,
        pixel_spacing_mm=(grid.pixel_spacing_mm, grid.pixel_spacing_mm),
        slice_thickness_mm=grid.slice_thickness_mm,
        accession_number=f"SYN{subj.code[-3:]}{tpi}",
        timepoint_id=plan.timepoint.label,
        timepoint_description=plan.timepoint.description,
    )


# ---------------------------------------------------------------------------- ground truth
def _pts(p: Any) -> list[list[float]]:
    return [list(p[0]), list(p[1])]


def _sums(subj: SubjectDesign, viable: bool) -> list[TimepointSums]:
    out = []
    for tp in subj.timepoints:
        present = subj.lesions_at(tp.index)
        targets = [s for t, s in present if t.role is LesionRole.TARGET]
        diam = tuple(s.viable_long_axis_mm if viable else s.outline.long_axis_mm for s in targets)
        nts = [s for t, s in present if t.role is LesionRole.NON_TARGET]
        absent = all(s.viable is None for s in nts) if viable else False
        new = any(t.role is LesionRole.NEW for t, _ in present)
        out.append(TimepointSums(tp.study_date, diam, non_targets_absent=absent and bool(nts),
                                 new_lesion=new))  # fmt: skip
    return out


def _criteria(subj: SubjectDesign, rules: ResponseRules, viable: bool) -> dict[str, Any]:
    results = derive_timepoint_responses(_sums(subj, viable), rules)
    return {
        "timepoints": [r.to_dict() for r in results],
        "best_overall_response": derive_best_overall_response(results, subj.treatment_start, rules),
    }


_CRITERIA_SOURCE = {
    "RECIST 1.1": "the response engine's defaults (readerstation.criteria.Recist11Criteria): "
    "Eisenhauer et al. 2009; SD minimum 35 days = 6-weekly imaging minus a 7-day window",
    "mRECIST": "the response engine's defaults (readerstation.criteria.MRecistCriteria): "
    "Lencioni & Llovet 2010, PD +20 % over the viable nadir with no absolute minimum",
}


def derive_ground_truth(
    out: Path, subjects: Iterable[SubjectDesign], grid: SliceGrid = DEFAULT_GRID
) -> dict[str, Any]:
    """The ground-truth document (see ``sample_dicom/README.md`` for its schema)."""
    subjects = tuple(subjects)
    plans = derive_series_plans(out, subjects, grid)
    att = PhaseAttenuation()
    doc: dict[str, Any] = {
        "schema_version": 1,
        "generator_version": GENERATOR_VERSION,
        "description": "Synthetic 3-phase liver CT trial generated by readerstation.sample; "
        "all lengths mm, points patient LPS mm, dates ISO.",
        "grid": {
            "rows": grid.rows,
            "columns": grid.columns,
            "pixel_spacing_mm": [grid.pixel_spacing_mm, grid.pixel_spacing_mm],
            "slice_thickness_mm": grid.slice_thickness_mm,
            "n_slices": grid.n_slices,
            "first_slice_z_mm": grid.z_top_mm,
            "image_orientation_patient": [1, 0, 0, 0, 1, 0],
            "origin_xy_mm": list(grid.origin_xy_mm),
        },
        "attenuation_hu": {
            "phases": [p.value for p, *_ in _PHASES],
            "tissues": {lab.name: list(v) for lab, v in att.tissue_hu.items()},
            "viable_tumour": list(att.viable_hu),
            "necrosis": list(att.necrosis_hu),
            "noise_sd": att.noise_sd_hu,
        },
        "criteria": {
            r.name: {
                "pr_change_pct": r.pr_change_pct,
                "pd_change_pct": r.pd_change_pct,
                "pd_min_increase_mm": r.pd_min_increase_mm,
                "confirmation_min_days": r.confirmation_min_days,
                "sd_min_days_from_treatment_start": r.sd_min_days,
                "source": _CRITERIA_SOURCE[r.name],
            }
            for r in (RECIST_1_1, MRECIST)
        },
        "subjects": [],
    }
    for si, subj in enumerate(subjects):
        tps = []
        for tp in subj.timepoints:
            sp = [p for p in plans if p.subject_index == si and p.timepoint.index == tp.index]
            art = next(p for p in sp if p.phase is ContrastPhase.ARTERIAL)
            lesions = []
            for track, st in subj.lesions_at(tp.index):
                o = st.outline
                k = grid.slice_index_of(o.centre[2])
                entry: dict[str, Any] = {
                    "lesion": track.lesion_id,
                    "role": track.role.value,
                    "organ": "liver",
                    "segment": track.segment,
                    "centre_lps_mm": list(o.centre),
                    "long_axis_mm": o.long_axis_mm,
                    "long_axis_endpoints_lps_mm": _pts(o.long_axis_endpoints()),
                    "short_axis_mm": o.short_axis_mm,
                    "short_axis_endpoints_lps_mm": _pts(o.short_axis_endpoints()),
                    "slice_z_mm": o.centre[2],
                    "slice_index": k,
                    "arterial_sop_instance_uid": art.sop_uid(k + 1),
                    "in_plane_angle_deg": o.angle_deg,
                    "semi_axes_mm": list(o.semi_axes),
                    "viable_long_axis_mm": st.viable_long_axis_mm,
                    "fully_viable": st.fully_viable,
                    "viable_centre_lps_mm": None if st.viable is None else list(st.viable.centre),
                    "viable_endpoints_lps_mm": (
                        None if st.viable is None else _pts(st.viable.long_axis_endpoints())
                    ),
                    "viable_semi_axes_mm": None if st.viable is None else list(st.viable.semi_axes),
                    "viable_slice_z_mm": None if st.viable is None else st.viable.centre[2],
                    "lipiodol": st.lipiodol is not None,
                    "lipiodol_hu": st.lipiodol_hu if st.lipiodol is not None else None,
                    "lipiodol_centre_lps_mm": (
                        None if st.lipiodol is None else list(st.lipiodol.centre)
                    ),
                    "lipiodol_semi_axes_mm": (
                        None if st.lipiodol is None else list(st.lipiodol.semi_axes)
                    ),
                }
                lesions.append(entry)
            tps.append(
                {
                    "timepoint": tp.label,
                    "description": tp.description,
                    "study_date": tp.study_date.isoformat(),
                    "folder": (subject_dir(out, si, subj.code) / tp.folder)
                    .relative_to(out)
                    .as_posix(),
                    "study_instance_uid": art.study_uid,
                    "frame_of_reference_uid": art.frame_of_reference_uid,
                    "series": [
                        {
                            "phase": p.phase.value,
                            "series_number": p.series_number,
                            "series_description": p.description,
                            "series_instance_uid": p.series_uid,
                            "acquisition_time": p.acquisition_time.strftime("%H:%M:%S"),
                            "folder": p.relative_folder(out),
                        }
                        for p in sp
                    ],
                    "lesions": lesions,
                }
            )
        doc["subjects"].append(
            {
                "subject": subj.code,
                "archetype": subj.archetype,
                "folder": subject_dir(out, si, subj.code).relative_to(out).as_posix(),
                "treatment": subj.treatment,
                "treatment_start": subj.treatment_start.isoformat(),
                "timepoints": tps,
                "expected": {
                    "RECIST 1.1": _criteria(subj, RECIST_1_1, viable=False),
                    "mRECIST": _criteria(subj, MRECIST, viable=True),
                },
            }
        )
    return doc


def derive_timelines(subjects: Iterable[SubjectDesign]) -> dict[str, dict[str, Any]]:
    """Response-engine input timelines: ``{"recist": {...}, "mrecist": {...}}``."""
    out: dict[str, dict[str, Any]] = {}
    for key, viable in (("recist", False), ("mrecist", True)):
        subs = []
        for subj in subjects:
            assessments = []
            for tp in subj.timepoints:
                present = subj.lesions_at(tp.index)
                targets = [
                    {
                        "lesion": t.lesion_id,
                        "organ": "liver",
                        "nodal": False,
                        "diameter_mm": s.viable_long_axis_mm if viable else s.outline.long_axis_mm,
                    }
                    for t, s in present
                    if t.role is LesionRole.TARGET
                ]
                nts = [
                    {
                        "lesion": t.lesion_id,
                        "status": "absent" if viable and s.viable is None else "present",
                    }
                    for t, s in present
                    if t.role is LesionRole.NON_TARGET
                ]
                new = any(t.role is LesionRole.NEW for t, _ in present)
                assessments.append(
                    {
                        "date": tp.study_date.isoformat(),
                        "targets": targets,
                        "non_targets": nts,
                        "new_lesions": "unequivocal" if new else "none",
                    }
                )
            last = subj.timepoints[-1].study_date
            subs.append(
                {
                    "subject": subj.code,
                    "treatment_start": subj.treatment_start.isoformat(),
                    "death_date": None,
                    "last_known_alive": (last + dt.timedelta(days=28)).isoformat(),
                    "assessments": assessments,
                }
            )
        out[key] = {"subjects": subs}
    return out


def _write_json_if_changed(path: Path, doc: Any) -> bool:
    text = json.dumps(doc, indent=1, ensure_ascii=True) + "\n"
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return True


# ---------------------------------------------------------------------------- generation
def _check_same_grid(path: Path, grid_doc: dict[str, Any], force: bool) -> None:
    """Refuse to mix grids in one folder (e.g. ``--small`` into the full sample)."""
    if force or not path.is_file():
        return
    try:
        old = json.loads(path.read_text(encoding="utf-8")).get("grid")
    except (OSError, ValueError, AttributeError):
        return
    if old is not None and old != grid_doc:
        raise SampleDataError(
            f"{path.parent} holds a sample trial written on another grid "
            f"({old.get('rows')}x{old.get('columns')}, {old.get('n_slices')} slices) than the one "
            f"asked ({grid_doc['rows']}x{grid_doc['columns']}, {grid_doc['n_slices']} slices); "
            "use another --out folder, or --force to overwrite it."
        )


def _stale_subjects(path: Path, truth: dict[str, Any]) -> set[str]:
    """Subjects whose files were written by another generator version or design (their entry in
    the existing ground truth differs from the current one): they are rewritten."""
    if not path.is_file():
        return set()
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
        old_subjects = {s["subject"]: s for s in old["subjects"]}
        same_version = old.get("generator_version") == truth["generator_version"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    return {
        s["subject"]
        for s in truth["subjects"]
        if not same_version
        or (
            s["subject"] in old_subjects
            and _rendered_part(old_subjects[s["subject"]]) != _rendered_part(s)
        )
    }


def _rendered_part(subject_entry: Any) -> Any:
    """A subject's ground-truth entry without the expected responses: what its pixels depend on
    (a change in the response rules must not force the series to be rewritten)."""
    if not isinstance(subject_entry, dict):
        return subject_entry
    return {k: v for k, v in subject_entry.items() if k != "expected"}


@dataclass(frozen=True)
class GenerationSummary:
    """What :func:`generate_trial` did; ``str()`` is the one-line CLI summary.

    Parameters
    ----------
    out : Path
        The trial folder.
    n_subjects : int
        Subjects in the trial.
    series_total, series_written : int
        Series of the trial, and how many were (re)written this run.
    bytes_written : int
        Size of the files written this run.
    json_written : tuple of str
        JSON files whose content changed and were rewritten.
    seconds : float
        Wall time.
    """

    out: Path
    n_subjects: int
    series_total: int
    series_written: int
    bytes_written: int
    json_written: tuple[str, ...]
    seconds: float

    def __str__(self) -> str:
        if self.series_written == 0 and not self.json_written:
            return (
                f"sample trial up to date in {self.out}: {self.n_subjects} subjects, "
                f"{self.series_total} series ({self.seconds:.1f} s)"
            )
        return (
            f"sample trial in {self.out}: wrote {self.series_written}/{self.series_total} series "
            f"({self.bytes_written / 1e6:.1f} MB) and {len(self.json_written)} JSON file(s) for "
            f"{self.n_subjects} subjects in {self.seconds:.1f} s"
        )


def generate_trial(
    out: Path,
    *,
    n_subjects: int = 3,
    force: bool = False,
    grid: SliceGrid = DEFAULT_GRID,
    transfer_syntax: str = JPEGLSLossless,
    workers: int | None = None,
) -> GenerationSummary:
    """Write whatever is missing of the sample trial under ``out``.

    Parameters
    ----------
    out : Path
        Output folder (created if needed).
    n_subjects : int
        1..3 (responder, stable, progressing).
    force : bool
        Rewrite every series even when complete.
    grid : SliceGrid
        Sampling grid (``SMALL_GRID`` for quick tests).
    transfer_syntax : str
        Transfer syntax UID of the files (default JPEG-LS Lossless).
    workers : int, optional
        Processes to use (default: min(2, CPU count)); 1 writes in this process.

    Returns
    -------
    GenerationSummary
    """
    t0 = time.perf_counter()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise SampleDataError(f"--out {out} exists and is not a folder; give a folder path.")
    subjects = derive_trial_design(n_subjects)
    transfer_syntax = check_encoder_available(transfer_syntax)
    out.mkdir(parents=True, exist_ok=True)
    truth = derive_ground_truth(out, subjects, grid)
    _check_same_grid(out / GROUND_TRUTH_FILE, truth["grid"], force)
    stale = _stale_subjects(out / GROUND_TRUTH_FILE, truth)
    plans = derive_series_plans(out, subjects, grid)
    todo = [
        p
        for p in plans
        if force or p.subject.code in stale or not check_series_complete(p.folder, grid.n_slices)
    ]
    for p in todo:
        if p.folder.is_dir():
            for f in p.folder.iterdir():
                if f.suffix in (".dcm", ".part"):
                    f.unlink()
    n_workers = workers if workers is not None else min(2, os.cpu_count() or 1)
    written = 0
    if todo:
        if n_workers <= 1 or len(todo) == 1:
            written = sum(_write_series(p, transfer_syntax) for p in todo)
        else:
            with ProcessPoolExecutor(max_workers=n_workers) as pool:
                written = sum(pool.map(_write_series, todo, [transfer_syntax] * len(todo)))
    json_written = []
    if _write_json_if_changed(out / GROUND_TRUTH_FILE, truth):
        json_written.append(GROUND_TRUTH_FILE)
    for key, doc in derive_timelines(subjects).items():
        if _write_json_if_changed(out / TIMELINE_FILES[key], doc):
            json_written.append(TIMELINE_FILES[key])
    return GenerationSummary(
        out=out,
        n_subjects=n_subjects,
        series_total=len(plans),
        series_written=len(todo),
        bytes_written=written,
        json_written=tuple(json_written),
        seconds=time.perf_counter() - t0,
    )
