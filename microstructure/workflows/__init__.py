"""The seed studies as runnable workflows (``microstructure workflow NAME``).

:mod:`microstructure.workflows.seed003`: M-factors of the four electrodes of seed 003 against
the intergranular porosity (Figure 4 analogue), hierarchical DFN discharges (Figures 5-7
analogues) and the Table 2 energy densities beside the paper's. Seed 000's digital twin is a
pipeline recipe: ``microstructure run pipelines/seed000_digital_twin.toml --out twin``.
"""
