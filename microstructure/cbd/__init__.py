"""Carbon-binder domain (CBD): recipe composition (more to come: insertion, nanopores)."""

from microstructure.cbd.composition import Composition, composition, parse_named_values

__all__ = ["Composition", "composition", "parse_named_values"]
