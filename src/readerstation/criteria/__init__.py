"""RECIST 1.1 and mRECIST: parameter objects, closed sets and pure timepoint rules.

>>> from readerstation.criteria import Recist11Criteria, Response, compute_overall_response
>>> from readerstation.criteria import NewLesionCall
>>> compute_overall_response(Response.SD, None, NewLesionCall.UNEQUIVOCAL)
<Response.PD: 'PD'>
"""

from readerstation.criteria.enums import (
    DiameterCall,
    LesionKind,
    NewLesionCall,
    NonTargetStatus,
    Response,
)
from readerstation.criteria.organs import (
    is_intrahepatic,
    normalise_organ,
    organ_group,
    uses_viable_diameter,
)
from readerstation.criteria.params import (
    MRecistCriteria,
    Recist11Criteria,
    ResponseCriteria,
    criteria_from_name,
)
from readerstation.criteria.rules import (
    check_pd_increase,
    check_pr_decrease,
    combine_new_lesion_calls,
    compute_new_lesion_call,
    compute_non_target_response,
    compute_overall_response,
    compute_percent_change,
    compute_target_response,
)

__all__ = [
    "DiameterCall",
    "LesionKind",
    "MRecistCriteria",
    "NewLesionCall",
    "NonTargetStatus",
    "Recist11Criteria",
    "Response",
    "ResponseCriteria",
    "check_pd_increase",
    "check_pr_decrease",
    "combine_new_lesion_calls",
    "compute_new_lesion_call",
    "compute_non_target_response",
    "compute_overall_response",
    "compute_percent_change",
    "compute_target_response",
    "criteria_from_name",
    "is_intrahepatic",
    "normalise_organ",
    "organ_group",
    "uses_viable_diameter",
]
