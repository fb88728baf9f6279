"""Carbon-binder domain (CBD): recipe composition, geometric insertion into the pore space with
a contact angle (filling the voids around gas voids of bounded size when asked), fibrous
nanopores inside it, a report of where it sits, and the fit of the model to a measured
mercury intrusion curve (:func:`calibrate_cbd`)."""

from microstructure.cbd.calibrate import (
    CbdCalibration,
    calibrate_cbd,
    calibration_figure,
    cbd_mip_curve,
)
from microstructure.cbd.composition import Composition, composition, parse_named_values
from microstructure.cbd.defaults import (
    DEFAULT_CBD_POROSITY,
    DEFAULT_CONTACT_ANGLE_DEG,
    DEFAULT_NANOPORE_MEAN_NM,
    DEFAULT_NANOPORE_STD_NM,
)
from microstructure.cbd.insertion import (
    DISTRIBUTIONS,
    INSERTION_METHODS,
    CbdFallbackWarning,
    cbd_envelope_fraction,
    insert_cbd,
)
from microstructure.cbd.nanopores import (
    add_nanopores,
    nanopore_diameters,
    unresolved_cbd_properties,
)
from microstructure.cbd.report import cbd_report, measure_contact_angle

__all__ = [
    "CbdCalibration",
    "calibrate_cbd",
    "calibration_figure",
    "cbd_mip_curve",
    "DISTRIBUTIONS",
    "Composition",
    "composition",
    "parse_named_values",
    "INSERTION_METHODS",
    "CbdFallbackWarning",
    "cbd_envelope_fraction",
    "insert_cbd",
    "add_nanopores",
    "nanopore_diameters",
    "unresolved_cbd_properties",
    "cbd_report",
    "measure_contact_angle",
    "DEFAULT_CBD_POROSITY",
    "DEFAULT_CONTACT_ANGLE_DEG",
    "DEFAULT_NANOPORE_MEAN_NM",
    "DEFAULT_NANOPORE_STD_NM",
]
