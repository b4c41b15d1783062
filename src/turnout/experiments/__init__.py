"""Experiments: assignment, exposure and conversion tracking, and the stats engine.

    from turnout.experiments import srm_pvalue, welch_test

    welch_test(5000, 0.10, 0.09, 5000, 0.112, 0.0995)   # TestResult(p_value=..., lift=0.12, ...)
    srm_pvalue([5000, 5400], [50, 50])                   # 8.8e-05: the split is broken

Pure modules (no I/O): ``stats`` (summaries, Welch, SRM), ``sequential`` (confidence
sequences), ``bayes``, ``cuped``, ``corrections`` (Holm, Benjamini-Hochberg),
``power`` (power, MDE, sample size), ``assign`` (sticky bucketing, re-weighting),
``model`` (definitions), ``analysis`` (sums to results). I/O: ``store``, ``service``,
``sdk``, ``traffic``, ``plot``. See docs/experiments.md.
"""

from turnout.experiments.analysis import VariantData, analyze
from turnout.experiments.assign import Layout, assign, initial_layout, moves, reweight
from turnout.experiments.bayes import BayesResult, bayes
from turnout.experiments.corrections import benjamini_hochberg, holm
from turnout.experiments.cuped import Paired
from turnout.experiments.cuped import adjust as cuped
from turnout.experiments.model import ExperimentSpec, MetricSpec, validate_spec
from turnout.experiments.power import mde, power, sample_size
from turnout.experiments.sdk import Experiments
from turnout.experiments.sequential import sequential
from turnout.experiments.stats import (
    Moments,
    NotEnoughData,
    Sample,
    TestResult,
    ratio_sample,
    srm_pvalue,
    welch,
    welch_test,
)

__all__ = [
    "BayesResult",
    "ExperimentSpec",
    "Experiments",
    "Layout",
    "MetricSpec",
    "Moments",
    "NotEnoughData",
    "Paired",
    "Sample",
    "TestResult",
    "VariantData",
    "analyze",
    "assign",
    "bayes",
    "benjamini_hochberg",
    "cuped",
    "holm",
    "initial_layout",
    "mde",
    "moves",
    "power",
    "ratio_sample",
    "reweight",
    "sample_size",
    "sequential",
    "srm_pvalue",
    "validate_spec",
    "welch",
    "welch_test",
]
