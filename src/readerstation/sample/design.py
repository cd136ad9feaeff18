"""The designed sample trial: subjects, timepoints and lesions, with analytic true diameters.

Every lesion is an ellipsoid whose third axis is the patient z (superior) axis, rotated in the
axial plane by ``angle_deg``; its longest axial diameter is therefore ``2 * max(in-plane
semi-axes)`` on the axial plane through its centre, and that plane is a slice of every sampling
grid the generator uses (lesion centres lie on multiples of 5 mm in z). The viable (arterially
enhancing) part is a smaller ellipsoid, same orientation, placed eccentrically inside the lesion
on the same axial plane, so its longest axial diameter is known analytically too. The rest of the
lesion is necrosis, with a lipiodol deposit after TACE.

Coordinates are patient LPS millimetres (x to the patient's left, y posterior, z superior).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from readerstation.errors import SampleDataError

__all__ = [
    "ContrastPhase",
    "Ellipsoid",
    "LesionRole",
    "LesionState",
    "LesionTrack",
    "SubjectDesign",
    "TimepointDesign",
    "derive_trial_design",
]

#: Days between consecutive imaging timepoints (6 weeks).
FOLLOW_UP_INTERVAL_DAYS = 42
#: Number of follow-ups after baseline.
N_FOLLOW_UPS = 3
#: Lesion centres lie on multiples of this z step (mm) so every grid samples their largest plane.
LESION_Z_STEP_MM = 5.0
#: Necrotic rim (mm) kept between a sub-compartment (viable nodule, lipiodol) and the lesion border.
COMPARTMENT_MARGIN_MM = 3.0
#: Necrotic gap (mm) between the viable nodule and the lipiodol deposit.
LIPIODOL_GAP_MM = 4.0


class ContrastPhase(Enum):
    """Contrast phase of a CT series (words of DICOM CID 6098 / clinical usage)."""

    NON_CONTRAST = "NON_CONTRAST"
    ARTERIAL = "ARTERIAL"
    PORTAL_VENOUS = "PORTAL_VENOUS"


class LesionRole(Enum):
    """Role of a lesion in the RECIST 1.1 / mRECIST assessment."""

    TARGET = "TARGET"
    NON_TARGET = "NON_TARGET"
    NEW = "NEW"


@dataclass(frozen=True)
class Ellipsoid:
    """An ellipsoid with its third axis along patient z, rotated in the axial plane.

    Parameters
    ----------
    centre : tuple of float, (x, y, z) LPS mm
        Centre.
    semi_axes : tuple of float, (a, b, c) mm
        Semi-axis along the in-plane direction ``angle_deg``, along the perpendicular in-plane
        direction, and along z. ``a >= b`` so ``2 * a`` is the longest axial diameter.
    angle_deg : float
        In-plane angle of the ``a`` axis from the +x (patient left) axis towards +y (posterior).
    """

    centre: tuple[float, float, float]
    semi_axes: tuple[float, float, float]
    angle_deg: float = 0.0

    def __post_init__(self) -> None:
        a, b, c = self.semi_axes
        if not (a > 0 and b > 0 and c > 0):
            raise SampleDataError(
                f"Ellipsoid semi-axes must be positive mm values; received {self.semi_axes!r}."
            )
        if b > a + 1e-9:
            raise SampleDataError(
                f"Ellipsoid semi-axes (a, b, c) need a >= b so 2a is the longest axial diameter; "
                f"received a={a}, b={b}. Swap them and add 90 degrees to angle_deg."
            )

    @property
    def major_direction(self) -> np.ndarray:
        """Unit LPS vector of the in-plane major axis."""
        t = math.radians(self.angle_deg)
        return np.array([math.cos(t), math.sin(t), 0.0])

    @property
    def minor_direction(self) -> np.ndarray:
        """Unit LPS vector of the in-plane minor axis."""
        t = math.radians(self.angle_deg)
        return np.array([-math.sin(t), math.cos(t), 0.0])

    @property
    def long_axis_mm(self) -> float:
        """True longest axial diameter (mm), on the axial plane through the centre."""
        return 2.0 * self.semi_axes[0]

    @property
    def short_axis_mm(self) -> float:
        """Longest diameter perpendicular to the long axis on the same plane (mm)."""
        return 2.0 * self.semi_axes[1]

    def long_axis_endpoints(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """The two end points (LPS mm) of the longest axial diameter."""
        c = np.asarray(self.centre, dtype=float)
        d = self.major_direction * self.semi_axes[0]
        return _pt(c - d), _pt(c + d)

    def short_axis_endpoints(self) -> tuple[tuple[float, float, float], tuple[float, float, float]]:
        """The two end points (LPS mm) of the perpendicular short axis."""
        c = np.asarray(self.centre, dtype=float)
        d = self.minor_direction * self.semi_axes[1]
        return _pt(c - d), _pt(c + d)

    def normalised_radius(self, x: np.ndarray, y: np.ndarray, z: float) -> np.ndarray:
        """Squared normalised radius of points on the axial plane ``z`` (<= 1 inside)."""
        cx, cy, cz = self.centre
        a, b, c = self.semi_axes
        t = math.radians(self.angle_deg)
        dx = x - cx
        dy = y - cy
        u = dx * math.cos(t) + dy * math.sin(t)
        v = -dx * math.sin(t) + dy * math.cos(t)
        return np.asarray((u / a) ** 2 + (v / b) ** 2 + ((z - cz) / c) ** 2)

    def surface_points(self, n: int = 24) -> np.ndarray:
        """Points on the surface, shape (m, 3) LPS mm (for containment checks)."""
        th, ph = np.meshgrid(np.linspace(0, 2 * np.pi, n), np.linspace(0, np.pi, n // 2 + 1))
        a, b, c = self.semi_axes
        u = a * np.cos(th) * np.sin(ph)
        v = b * np.sin(th) * np.sin(ph)
        w = c * np.cos(ph)
        pts = (
            np.asarray(self.centre)[None, :]
            + u.reshape(-1, 1) * self.major_direction[None, :]
            + v.reshape(-1, 1) * self.minor_direction[None, :]
        )
        pts[:, 2] += w.reshape(-1)
        return pts

    def contains(self, other: Ellipsoid, margin_mm: float = 0.0) -> bool:
        """Whether ``other`` lies inside this ellipsoid shrunk by about ``margin_mm``."""
        a, b, c = self.semi_axes
        shrunk = Ellipsoid(
            self.centre, (a - margin_mm, min(b, a) - margin_mm, c - margin_mm), self.angle_deg
        )
        p = other.surface_points()
        t = math.radians(shrunk.angle_deg)
        d = p - np.asarray(shrunk.centre)[None, :]
        u = d[:, 0] * math.cos(t) + d[:, 1] * math.sin(t)
        v = -d[:, 0] * math.sin(t) + d[:, 1] * math.cos(t)
        sa, sb, sc = shrunk.semi_axes
        r = (u / sa) ** 2 + (v / sb) ** 2 + (d[:, 2] / sc) ** 2
        return bool(np.all(r <= 1.0))


def _pt(v: np.ndarray) -> tuple[float, float, float]:
    return (round(float(v[0]), 3), round(float(v[1]), 3), round(float(v[2]), 3))


@dataclass(frozen=True)
class LesionState:
    """One lesion at one timepoint: outline, viable part, lipiodol deposit.

    Parameters
    ----------
    outline : Ellipsoid
        The whole lesion (what RECIST 1.1 measures).
    viable : Ellipsoid or None
        The arterially enhancing viable part (what mRECIST measures); ``None`` when no viable
        tumour is left. Equal to ``outline`` when the lesion is entirely viable.
    lipiodol : Ellipsoid or None
        Dense lipiodol deposit after TACE (hyperdense in every phase, not viable tumour).
    lipiodol_hu : float
        Attenuation of the lipiodol deposit (HU), 300..1000.
    """

    outline: Ellipsoid
    viable: Ellipsoid | None
    lipiodol: Ellipsoid | None = None
    lipiodol_hu: float = 700.0

    def __post_init__(self) -> None:
        if self.viable is not None and self.viable is not self.outline:
            if not self.outline.contains(self.viable, COMPARTMENT_MARGIN_MM - 0.01):
                raise SampleDataError(
                    f"The viable part {self.viable} does not fit inside the lesion "
                    f"{self.outline}; shrink it or move it towards the centre."
                )
        if self.lipiodol is not None and not self.outline.contains(self.lipiodol, 0.5):
            raise SampleDataError(
                f"The lipiodol deposit {self.lipiodol} does not fit inside the lesion "
                f"{self.outline}; shrink it."
            )
        if not 300.0 <= self.lipiodol_hu <= 1000.0:
            raise SampleDataError(
                "lipiodol_hu must be 300..1000 HU (dense iodised oil); "
                f"received {self.lipiodol_hu}."
            )

    @property
    def fully_viable(self) -> bool:
        """True when the whole lesion enhances."""
        return self.viable is self.outline

    @property
    def viable_long_axis_mm(self) -> float:
        """Longest axial diameter of the viable part (mm); 0 when none is left."""
        return 0.0 if self.viable is None else self.viable.long_axis_mm


@dataclass(frozen=True)
class LesionTrack:
    """One lesion followed over the timepoints.

    Parameters
    ----------
    lesion_id : str
        Tracking identifier (``T1``, ``NT1``, ``NEW1``...).
    role : LesionRole
        Target, non-target or new.
    segment : str
        Couinaud liver segment, Roman numeral I..VIII (``IVa``/``IVb`` allowed).
    states : tuple of (LesionState or None)
        One per timepoint (baseline first); ``None`` where the lesion is not (yet) there.
    """

    lesion_id: str
    role: LesionRole
    segment: str
    states: tuple[LesionState | None, ...]

    def __post_init__(self) -> None:
        if self.segment not in {"I", "II", "III", "IVa", "IVb", "V", "VI", "VII", "VIII"}:
            raise SampleDataError(
                f"Lesion {self.lesion_id}: segment must be a Couinaud segment I..VIII; "
                f"received {self.segment!r}."
            )
        if self.role is not LesionRole.NEW and self.states[0] is None:
            raise SampleDataError(
                f"Lesion {self.lesion_id} ({self.role.value}) must exist at baseline."
            )
        if self.role is LesionRole.NEW and self.states[0] is not None:
            raise SampleDataError(f"New lesion {self.lesion_id} cannot exist at baseline.")


@dataclass(frozen=True)
class TimepointDesign:
    """One imaging timepoint (a 3-phase CT study)."""

    index: int
    label: str
    description: str
    study_date: dt.date

    @property
    def folder(self) -> str:
        """Folder name of the study, e.g. ``TP1_week06``."""
        return f"{self.label}_week{6 * self.index:02d}" if self.index else f"{self.label}_baseline"


@dataclass(frozen=True)
class SubjectDesign:
    """One synthetic subject: trial code, archetype, dates and lesion tracks."""

    code: str
    archetype: str
    seed: int
    baseline_date: dt.date
    treatment: str
    treatment_start: dt.date
    tracks: tuple[LesionTrack, ...]
    body_scale: float = 1.0
    timepoints: tuple[TimepointDesign, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.timepoints:
            tps = tuple(
                TimepointDesign(
                    index=i,
                    label=f"TP{i}",
                    description="Baseline" if i == 0 else f"Follow-up {i} (week {6 * i})",
                    study_date=self.baseline_date + dt.timedelta(days=FOLLOW_UP_INTERVAL_DAYS * i),
                )
                for i in range(N_FOLLOW_UPS + 1)
            )
            object.__setattr__(self, "timepoints", tps)
        for tr in self.tracks:
            if len(tr.states) != len(self.timepoints):
                raise SampleDataError(
                    f"{self.code} lesion {tr.lesion_id}: {len(tr.states)} states for "
                    f"{len(self.timepoints)} timepoints; give one state (or None) per timepoint."
                )
        targets = [t for t in self.tracks if t.role is LesionRole.TARGET]
        if not 1 <= len(targets) <= 2:
            raise SampleDataError(
                f"{self.code}: {len(targets)} liver targets; RECIST 1.1 and mRECIST allow 1..2 "
                "per organ."
            )

    def lesions_at(self, tp: int) -> list[tuple[LesionTrack, LesionState]]:
        """Lesions present at timepoint ``tp`` with their state."""
        return [(t, s) for t in self.tracks if (s := t.states[tp]) is not None]


# ---------------------------------------------------------------------------- the design
def _lesion(
    centre: tuple[float, float, float],
    long_mm: float,
    viable_mm: float,
    *,
    angle: float,
    minor_ratio: float = 0.8,
    lipiodol_hu: float | None = None,
) -> LesionState:
    """Build a lesion state from its two designed diameters.

    The viable part sits at the ``+major`` end of the lesion (eccentric nodule), the lipiodol
    deposit (when ``lipiodol_hu`` is given) at the opposite end with a necrotic gap between them.
    """
    if centre[2] % LESION_Z_STEP_MM:
        raise SampleDataError(
            f"Lesion centre z={centre[2]} mm must be a multiple of {LESION_Z_STEP_MM} mm so every "
            "grid has a slice through the lesion's largest axial section."
        )
    a = long_mm / 2.0
    outline = Ellipsoid(centre, (a, a * minor_ratio, a * 0.85), angle)
    m = COMPARTMENT_MARGIN_MM
    u = outline.major_direction
    c = np.asarray(centre, dtype=float)
    viable: Ellipsoid | None
    if viable_mm >= long_mm:
        viable = outline
    elif viable_mm <= 0:
        viable = None
    else:
        av = viable_mm / 2.0
        offset = a - m - av
        if offset < 0:
            raise SampleDataError(f"viable {viable_mm} mm does not fit in a {long_mm} mm lesion")
        vc = c + u * offset
        viable = _fit_inside(outline, _pt(vc), av, min(av * 0.85, a * minor_ratio), angle)
    lipiodol: Ellipsoid | None = None
    if lipiodol_hu is not None:
        used = 0.0 if viable is None else viable_mm + LIPIODOL_GAP_MM
        al = (long_mm - 2 * m - used) / 2.0
        if al >= 3.0:
            lc = c - u * (a - m - al)
            lipiodol = _fit_inside(outline, _pt(lc), al, min(al, a * minor_ratio * 0.8), angle)
    return LesionState(
        outline, viable, lipiodol, lipiodol_hu=700.0 if lipiodol_hu is None else lipiodol_hu
    )


def _fit_inside(
    outline: Ellipsoid, centre: tuple[float, float, float], a: float, b: float, angle: float
) -> Ellipsoid:
    """The sub-ellipsoid of semi-major ``a`` (kept exactly) with the largest minor and z
    semi-axes up to ``b`` that fits inside ``outline`` with the compartment margin."""
    scale = 1.0
    while scale > 0.05:
        sub = Ellipsoid(centre, (a, b * scale, b * scale), angle)
        if outline.contains(sub, COMPARTMENT_MARGIN_MM - 0.01):
            return sub
        scale *= 0.93
    raise SampleDataError(
        f"Cannot fit a compartment of long axis {2 * a} mm at {centre} inside the lesion "
        f"{outline}; make it smaller or move it towards the lesion centre."
    )


def _track(
    lesion_id: str,
    role: LesionRole,
    segment: str,
    centre: tuple[float, float, float],
    angle: float,
    sizes: list[tuple[float, float, float | None] | None],
) -> LesionTrack:
    """``sizes``: per timepoint ``(long_mm, viable_mm, lipiodol_hu or None)`` or None (absent)."""
    states = tuple(
        None if s is None else _lesion(centre, s[0], s[1], angle=angle, lipiodol_hu=s[2])
        for s in sizes
    )
    return LesionTrack(lesion_id, role, segment, states)


T, NT, NEW = LesionRole.TARGET, LesionRole.NON_TARGET, LesionRole.NEW


def _responder() -> SubjectDesign:
    # RECIST sums 100 -> 92 -> 64 -> 58; mRECIST (viable) sums 92 -> 38 -> 12 -> 8.
    return SubjectDesign(
        code="HCC-001",
        archetype="responder",
        seed=1001,
        baseline_date=dt.date(2024, 1, 8),
        treatment="TACE (cTACE with lipiodol) after baseline",
        treatment_start=dt.date(2024, 1, 12),
        body_scale=1.0,
        tracks=(
            _track("T1", T, "VIII", (-70.0, -15.0, 60.0), 30.0,
                   [(60, 52, None), (56, 24, 750), (42, 12, 700), (38, 8, 650)]),
            _track("T2", T, "VI", (-95.0, 30.0, -5.0), -20.0,
                   [(40, 40, None), (36, 14, 800), (22, 0, 750), (20, 0, 700)]),
            _track("NT1", NT, "III", (45.0, -55.0, 40.0), 10.0,
                   [(14, 14, None), (14, 14, None), (13, 13, None), (13, 13, None)]),
        ),
    )  # fmt: skip


def _stable() -> SubjectDesign:
    # RECIST sums 78 -> 81 -> 75 -> 80; mRECIST 70 -> 73 -> 67 -> 71.
    return SubjectDesign(
        code="HCC-002",
        archetype="stable",
        seed=1002,
        baseline_date=dt.date(2024, 2, 5),
        treatment="TACE after baseline (incomplete lipiodol uptake)",
        treatment_start=dt.date(2024, 2, 9),
        body_scale=1.05,
        tracks=(
            _track("T1", T, "VII", (-100.0, 45.0, 45.0), 60.0,
                   [(48, 40, None), (50, 42, 600), (46, 38, 550), (49, 40, 500)]),
            _track("T2", T, "IVa", (-5.0, -45.0, 55.0), -40.0,
                   [(30, 30, None), (31, 31, None), (29, 29, None), (31, 31, None)]),
            _track("NT1", NT, "II", (50.0, -30.0, 65.0), 0.0,
                   [(15, 15, None), (15, 15, None), (15, 15, None), (15, 15, None)]),
        ),
    )  # fmt: skip


def _progressor() -> SubjectDesign:
    # RECIST sums 64 -> 71 -> 82 -> 92 (+ new lesion from TP1); mRECIST 58 -> 65 -> 76 -> 86.
    return SubjectDesign(
        code="HCC-003",
        archetype="progressing",
        seed=1003,
        baseline_date=dt.date(2024, 3, 4),
        treatment="TACE after baseline",
        treatment_start=dt.date(2024, 3, 8),
        body_scale=0.95,
        tracks=(
            _track("T1", T, "V", (-60.0, -35.0, 0.0), 15.0,
                   [(36, 30, None), (40, 34, 500), (46, 40, 450), (52, 46, 400)]),
            _track("T2", T, "VIII", (-55.0, 15.0, 75.0), -60.0,
                   [(28, 28, None), (31, 31, None), (36, 36, None), (40, 40, None)]),
            _track("NT1", NT, "VI", (-115.0, 20.0, 15.0), 45.0,
                   [(12, 12, None), (12, 12, None), (13, 13, None), (14, 14, None)]),
            _track("NEW1", NEW, "II", (40.0, -35.0, 70.0), 20.0,
                   [None, (16, 16, None), (22, 22, None), (28, 28, None)]),
        ),
    )  # fmt: skip


_ARCHETYPES = (_responder, _stable, _progressor)
#: Most subjects the design holds.
MAX_SUBJECTS = len(_ARCHETYPES)


def derive_trial_design(n_subjects: int = MAX_SUBJECTS) -> tuple[SubjectDesign, ...]:
    """The designed subjects, first ``n_subjects`` of responder, stable, progressing.

    Parameters
    ----------
    n_subjects : int
        1..3.

    Returns
    -------
    tuple of SubjectDesign
    """
    if not 1 <= n_subjects <= MAX_SUBJECTS:
        raise SampleDataError(
            f"--subjects must be 1..{MAX_SUBJECTS} (the designed responder, stable and "
            f"progressing subjects); received {n_subjects}."
        )
    return tuple(f() for f in _ARCHETYPES[:n_subjects])
