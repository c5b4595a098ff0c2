"""The PAN-X chapter's analyses: tagging free text, the error analysis of a trained
tagger (loss by token and tag, confusion matrix, worst sentences) and the zero-shot vs
fine-tuning learning curve.

Submodules import torch/transformers lazily where they can, and this package imports a
submodule only when one of its names is first used.
"""

from __future__ import annotations

import importlib

# name -> the submodule that defines it; imported when first used, so reading one record
# (auditor.analysis.error_analysis.AnalysisResult for the report) does not load the tagger code
_EXPORTS = {
    "AnalysisResult": "error_analysis", "LossRow": "error_analysis", "WorstSentence": "error_analysis",
    "analyze_predictions": "error_analysis", "run_analysis": "error_analysis",
    "CurvePoint": "curve", "CurveResult": "curve", "run_curve": "curve",
    "ModelRef": "models", "find_model": "models",
    "TaggedSentence": "tagging", "TagResult": "tagging", "split_words": "tagging", "tag_sentences": "tagging",
    "tag_texts": "tagging",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
