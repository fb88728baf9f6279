"""The studies of the reference papers as runnable workflows (``microstructure workflow NAME``).

:mod:`microstructure.workflows.seed003`: M-factors of the four electrodes of Naumann et al.
(2024) against the intergranular porosity (Figure 4 analogue), hierarchical DFN discharges
(Figures 5-7 analogues) and the Table 2 energy densities beside the paper's. The digital twin of
Beuse et al. (2021) is a pipeline recipe:
``microstructure run pipelines/seed000_digital_twin.toml --out twin``.

References
----------
Naumann et al. (2024), ACS Appl. Energy Mater. 7, 4786, doi:10.1021/acsaem.4c00505.
Beuse et al. (2021), Batteries 7, 70, doi:10.3390/batteries7040070.
"""
