"""Bayesmark tasks (uber/bayesmark), rebuilt for current numpy and scikit-learn.

The ``bayesmark`` package (0.0.8, 2020) pins numpy 1.16 and scikit-learn 0.20 and does not run
with current versions (``np.float_``, ``load_boston``, ``normalize=`` and ``multi_class=`` are
gone). These are its task definitions, reimplemented from ``bayesmark/sklearn_funcs.py`` and
``bayesmark/data.py``: the same models with the same fixed arguments, the same search spaces
(its ``logit`` warping has no Optuna counterpart, so those parameters are uniform), the same
data (sklearn's bundled datasets, an 80/20 split with ``random_state=0``, the 80% scored by
5-fold cross-validation) and the same objective, the cross-validated loss (``-accuracy``, log
loss, mean squared error), minimised.

Bayesmark's normalised score of a run after ``t`` trials is
``100 * (1 - (best - opt) / (clip - opt))``: ``opt`` the best loss seen on the task, ``clip``
the median loss of one random configuration (here ``reference_worst``). ``trust_report.py``
reports it.

Only cheap model x dataset pairs are registered (a trial costs 5-100 ms).
"""

from __future__ import annotations

from dataclasses import dataclass
import functools
from typing import Any
import warnings

from _problems import Evaluation
from _problems import Params
from _problems import Problem
import numpy as np
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution


CV_SPLITS = 5
# Pool of evaluated configurations the simulated LLMs know (cached under results/).
POOL_SIZE = 2048

# Search spaces as in bayesmark: (kind, scale, low, high); kind "int"/"real"/"bool".
KNN = {"n_neighbors": ("int", "linear", 1, 25), "p": ("int", "linear", 1, 4)}
SVM = {
    "C": ("real", "log", 1.0, 1e3),
    "gamma": ("real", "log", 1e-4, 1e-3),
    "tol": ("real", "log", 1e-5, 1e-1),
}
TREE = {
    "max_depth": ("int", "linear", 1, 15),
    "min_samples_split": ("real", "logit", 0.01, 0.99),
    "min_samples_leaf": ("real", "logit", 0.01, 0.49),
    "min_weight_fraction_leaf": ("real", "logit", 0.01, 0.49),
    "max_features": ("real", "logit", 0.01, 0.99),
    "min_impurity_decrease": ("real", "linear", 0.0, 0.5),
}
LINEAR = {"C": ("real", "log", 1e-2, 1e2), "intercept_scaling": ("real", "log", 1e-2, 1e2)}

# name: (model, dataset, metric, search space)
TASKS = {
    "bm-knn-wine-acc": ("kNN", "wine", "acc", KNN),
    "bm-svm-wine-nll": ("SVM", "wine", "nll", SVM),
    "bm-dt-breast-acc": ("DT", "breast", "acc", TREE),
    "bm-linear-breast-nll": ("linear", "breast", "nll", LINEAR),
    "bm-rf-diabetes-mse": ("RF", "diabetes", "mse", TREE),
}
SCORERS = {"acc": "accuracy", "nll": "neg_log_loss", "mse": "neg_mean_squared_error"}
METRIC_NAMES = {"acc": "accuracy", "nll": "log loss", "mse": "mean squared error"}


def _distribution(kind: str, scale: str, low: float, high: float) -> BaseDistribution:
    if kind == "bool":
        return CategoricalDistribution([False, True])
    if kind == "int":
        return IntDistribution(int(low), int(high), log=scale == "log")
    return FloatDistribution(low, high, log=scale == "log")


@functools.cache
def _data(dataset: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets
    from sklearn.model_selection import train_test_split

    loader = {
        "wine": datasets.load_wine,
        "breast": datasets.load_breast_cancer,
        "diabetes": datasets.load_diabetes,
        "iris": datasets.load_iris,
        "digits": datasets.load_digits,
    }[dataset]
    data, target = loader(return_X_y=True)
    # bayesmark scores the 80% part by cross-validation; the 20% is its "generalization" split.
    x_train, _, y_train, _ = train_test_split(
        data.astype(float), target, test_size=0.2, random_state=0, shuffle=True
    )
    return x_train, y_train


def _estimator(model: str, classifier: bool, params: Params) -> Any:
    from sklearn import ensemble
    from sklearn import linear_model
    from sklearn import neighbors
    from sklearn import svm
    from sklearn import tree

    if model == "kNN":
        cls = neighbors.KNeighborsClassifier if classifier else neighbors.KNeighborsRegressor
        return cls(**params)
    if model == "SVM":
        return (
            svm.SVC(kernel="rbf", probability=True, **params)
            if classifier
            else svm.SVR(kernel="rbf", **params)
        )
    if model == "DT":
        cls = tree.DecisionTreeClassifier if classifier else tree.DecisionTreeRegressor
        return cls(max_leaf_nodes=None, **params)
    if model == "RF":
        cls = ensemble.RandomForestClassifier if classifier else ensemble.RandomForestRegressor
        return cls(n_estimators=10, max_leaf_nodes=None, **params)
    if model == "linear" and classifier:
        # bayesmark also passes multi_class="ovr": liblinear is one-vs-rest anyway.
        return linear_model.LogisticRegression(
            penalty="l2", fit_intercept=True, solver="liblinear", **params
        )
    raise ValueError(f"no bayesmark model {model!r} for this problem type")


@dataclass
class BayesmarkProblem(Problem):
    model: str = ""
    dataset: str = ""
    metric: str = "acc"

    def evaluate(self, params: Params) -> Evaluation:
        return Evaluation(
            _cv_loss(self.model, self.dataset, self.metric, tuple(sorted(params.items())))
        )

    @property
    def descriptors(self) -> dict[str, str | float]:
        return {"problem": self.name, "model": self.model, "dataset": self.dataset}

    def reference_worst(self) -> float | None:
        """Bayesmark's ``clip``, the median loss of a random configuration, estimated from the
        cached pool (2,000 fresh cross-validations would cost minutes)."""
        from _simulated_llms import truth_pool

        return float(np.median([value for _, value in truth_pool(self)]))


@functools.lru_cache(maxsize=4096)
def _cv_loss(model: str, dataset: str, metric: str, params: tuple[tuple[str, Any], ...]) -> float:
    """The cross-validated loss. The folds are fixed; as in bayesmark the estimators get no
    ``random_state``, so SVM (Platt scaling) and the trees are slightly stochastic. A repeated
    configuration returns its first value (cached within the process)."""
    from sklearn.metrics import get_scorer
    from sklearn.model_selection import cross_val_score

    x, y = _data(dataset)
    estimator = _estimator(model, metric in ("acc", "nll"), dict(params))
    with warnings.catch_warnings():
        # bayesmark ignores these too: optimisers try odd settings.
        warnings.simplefilter("ignore")
        scores = cross_val_score(estimator, x, y, scoring=get_scorer(SCORERS[metric]), cv=CV_SPLITS)
    return float(-np.mean(scores))


def bayesmark_problems() -> dict[str, Problem]:
    problems: dict[str, Problem] = {}
    for name, (model, dataset, metric, space) in TASKS.items():
        problems[name] = BayesmarkProblem(
            name=name,
            direction="minimize",
            search_space={k: _distribution(*v) for k, v in space.items()},
            task=(
                f"Minimise the 5-fold cross-validated {METRIC_NAMES[metric]}"
                f"{' (negated)' if metric == 'acc' else ''} of scikit-learn's {model} on the "
                f"{dataset} dataset (Bayesmark task {model}_{dataset}_{metric})."
            ),
            optimum=None,
            pool_size=POOL_SIZE,
            pool_cached=True,
            model=model,
            dataset=dataset,
            metric=metric,
        )
    return problems
