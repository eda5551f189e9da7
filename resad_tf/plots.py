"""Plot functions shared by the methods (matplotlib + mplhep HEP style).

Every function takes the numbers and an output path and writes one PNG; none
reads files or trains anything.  The bump-hunt plots live in
:mod:`resad_tf.bumphunt.plots`.
"""

from __future__ import annotations

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from resad_tf import metrics  # noqa: E402


def hep_style():
    """The HEP (ROOT-like) mplhep style of every plot of the toolkit and its benches."""
    import mplhep

    plt.style.use(mplhep.style.ROOT)


def _save(fig, path) -> pathlib.Path:
    path = pathlib.Path(path)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def roc_sic(curves: dict[str, tuple[np.ndarray, np.ndarray]], path, *, min_bkg: int = 50,
            title: str | None = None) -> pathlib.Path:
    """Inverse-background-efficiency ROC and SIC vs signal efficiency, one line per entry.

    ``curves`` maps a label to (truth labels, scores).
    """
    hep_style()
    fig, (ax_roc, ax_sic) = plt.subplots(1, 2, figsize=(14, 6))
    for name, (y, s) in curves.items():
        fpr, tpr, _ = metrics.roc(y, s)
        n_bkg = int(np.sum(np.asarray(y) == 0))
        ok = fpr * n_bkg >= max(min_bkg, 1)
        ax_roc.plot(tpr[ok], 1.0 / fpr[ok], label=f"{name} (AUC {metrics.auc(y, s):.3f})")
        tpr_s, sic = metrics.sic_curve(y, s, min_bkg=min_bkg)
        ax_sic.plot(tpr_s, sic, label=f"{name} (max {np.max(sic) if len(sic) else np.nan:.1f})")
    grid = np.linspace(1e-3, 1, 200)
    ax_roc.plot(grid, 1 / grid, "k:", label="random")
    ax_sic.plot(grid, np.sqrt(grid), "k:", label="random")
    ax_roc.set(yscale="log", xlabel="signal efficiency", ylabel="1 / background efficiency", xlim=(0, 1))
    ax_sic.set(xlabel="signal efficiency", ylabel="SIC = TPR / √FPR", xlim=(0, 1))
    for ax in (ax_roc, ax_sic):
        ax.legend(fontsize="x-small")
    if title:
        fig.suptitle(title, fontsize="medium")
    return _save(fig, path)


def ratio_panels(
    reference: tuple[np.ndarray, np.ndarray | None],
    others: dict[str, tuple[np.ndarray, np.ndarray | None]],
    feature_names,
    path,
    *,
    reference_label: str = "data",
    bins: int = 40,
    title: str | None = None,
) -> pathlib.Path:
    """Per-feature normalized histograms with an other/reference ratio panel.

    ``reference`` and each entry of ``others`` are (x [n, d], weights or None);
    used for the reweighting diagnostics (simulation before/after DCTR vs data).
    """
    hep_style()
    x_ref, w_ref = reference
    d = x_ref.shape[1]
    fig, axes = plt.subplots(2, d, figsize=(5 * d, 6.5), gridspec_kw={"height_ratios": [3, 1]},
                             sharex="col", squeeze=False)
    for j in range(d):
        lo, hi = np.percentile(x_ref[:, j], [0.5, 99.5])
        edges = np.linspace(lo, hi, bins + 1)
        h_ref, _ = np.histogram(x_ref[:, j], edges, weights=w_ref, density=True)
        axes[0, j].stairs(h_ref, edges, color="k", label=reference_label)
        for name, (x, w) in others.items():
            h, _ = np.histogram(x[:, j], edges, weights=w, density=True)
            axes[0, j].stairs(h, edges, label=name)
            with np.errstate(divide="ignore", invalid="ignore"):
                axes[1, j].stairs(np.where(h_ref > 0, h / h_ref, np.nan), edges)
        axes[1, j].axhline(1, color="k", lw=0.8)
        axes[1, j].set(ylim=(0.5, 1.5), xlabel=feature_names[j])
        axes[0, j].set(ylabel="density" if j == 0 else None)
        axes[1, j].set(ylabel=f"/ {reference_label}" if j == 0 else None)
    axes[0, 0].legend(fontsize="x-small", loc="upper right")  # jet masses peak on the left
    if title:
        fig.suptitle(title, fontsize="medium")
    return _save(fig, path)
