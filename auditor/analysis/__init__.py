"""The PAN-X chapter's analyses: tagging free text, the error analysis of a trained
tagger (loss by token and tag, confusion matrix, worst sentences) and the zero-shot vs
fine-tuning learning curve.

Submodules import torch/transformers lazily where they can; importing this package
pulls in the model code (tagging needs it).
"""

from auditor.analysis.curve import CurvePoint, CurveResult, run_curve
from auditor.analysis.error_analysis import AnalysisResult, LossRow, WorstSentence, analyze_predictions, run_analysis
from auditor.analysis.models import ModelRef, find_model
from auditor.analysis.tagging import TaggedSentence, TagResult, split_words, tag_sentences, tag_texts

__all__ = [
    "AnalysisResult",
    "CurvePoint",
    "CurveResult",
    "LossRow",
    "ModelRef",
    "TagResult",
    "TaggedSentence",
    "WorstSentence",
    "analyze_predictions",
    "find_model",
    "run_analysis",
    "run_curve",
    "split_words",
    "tag_sentences",
    "tag_texts",
]
