"""Stage-based pipeline: recipes (TOML), a stage registry and a resumable runner."""

from microstructure.pipeline.recipe import Recipe, StageSpec, load_recipe, parse_recipe
from microstructure.pipeline.runner import run_pipeline
from microstructure.pipeline.stages import (
    Stage,
    StageContext,
    StageOutput,
    StageParams,
    available_stages,
    get_stage,
    register,
)

__all__ = [
    "Recipe",
    "StageSpec",
    "load_recipe",
    "parse_recipe",
    "run_pipeline",
    "Stage",
    "StageContext",
    "StageOutput",
    "StageParams",
    "available_stages",
    "get_stage",
    "register",
]
