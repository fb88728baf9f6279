"""Carbon-binder domain (CBD): recipe composition, geometric insertion into the pore space with
a contact angle, fibrous nanopores inside it, and a report of where it sits."""

from microstructure.cbd.composition import Composition, composition, parse_named_values
from microstructure.cbd.defaults import (
    DEFAULT_CBD_POROSITY,
    DEFAULT_CONTACT_ANGLE_DEG,
    DEFAULT_NANOPORE_MEAN_NM,
    DEFAULT_NANOPORE_STD_NM,
)
from microstructure.cbd.insertion import (
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
