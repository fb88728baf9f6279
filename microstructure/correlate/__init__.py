"""Correlative porosity report: gauge, He pycnometry, MIP, N2 physisorption and the FIB/SEM
twin side by side (Beuse et al. 2021, doi:10.3390/batteries7040070, Table 2, Figures 2 and 6c).

Public entry points: :func:`correlative_report` (config -> :class:`CorrelativeReport`, and
with ``out_dir`` the JSON, HTML and figures), :func:`load_config`, :func:`read_twin_run`.
"""

from __future__ import annotations

from microstructure.correlate.config import load_config
from microstructure.correlate.report import CorrelativeReport, correlative_report, read_twin_run

__all__ = ["CorrelativeReport", "correlative_report", "load_config", "read_twin_run"]
