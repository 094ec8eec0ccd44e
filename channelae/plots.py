"""PNG plots of a results directory (placeholder replaced below by the plotting helper)."""
from __future__ import annotations
from pathlib import Path
from typing import Any

def render_plots(results_dir: Path, results: dict[str, Any]) -> list[Path]:
    return []
