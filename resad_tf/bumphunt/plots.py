"""Plots for the bump hunt and the scan (matplotlib + mplhep CMS style, PNG files).

Every function takes the output path, writes the PNG atomically and returns the path.
"""

from __future__ import annotations

import os
import pathlib
import tempfile

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mplhep  # noqa: E402
import numpy as np  # noqa: E402

from resad_tf.bumphunt.hunt import BumpHuntResult  # noqa: E402

_STYLE = mplhep.style.CMS


def plot_fit(result: BumpHuntResult, cut: int, path) -> pathlib.Path:
    """m_jj histogram after cut number ``cut`` (log y) with the fit, SR shaded, and pulls below."""
    c = result.cuts[cut]
    if c.fit is None:
        raise ValueError(f"cut {cut} has no fit ({c.error})")
    fit, edges = c.fit, result.edges
    with plt.style.context(_STYLE):
        fig, (ax, axp) = plt.subplots(
            2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05}, figsize=(10, 10)
        )
        mplhep.histplot(fit.counts, edges, yerr=np.sqrt(fit.counts), histtype="errorbar", color="k",
                        label="data", ax=ax)
        mplhep.histplot(fit.expected(), edges, color="C0", label=f"{fit.n_params}-parameter dijet fit", ax=ax)
        for a in (ax, axp):
            a.axvspan(*result.sr, color="C1", alpha=0.2, label="signal region" if a is ax else None)
        ax.set_yscale("log")
        ax.set_ylabel("events / bin")
        ax.legend(title=(f"eff = {c.efficiency:g}, Z = {c.z:.2f}\n"
                         f"$\\chi^2$/ndf = {fit.chi2:.1f}/{fit.ndf}" + (" (sculpted)" if c.sculpted else "")))
        centres = 0.5 * (edges[1:] + edges[:-1])
        pulls = fit.pulls()
        axp.bar(centres[fit.fitted], pulls[fit.fitted], width=np.diff(edges)[fit.fitted], color="C0")
        axp.bar(centres[~fit.fitted], pulls[~fit.fitted], width=np.diff(edges)[~fit.fitted], color="C1")
        axp.axhline(0, color="k", lw=1)
        axp.set_ylabel("pull")
        axp.set_xlabel("$m_{jj}$ [TeV]")
        return _save(fig, path)


def plot_significance(result: BumpHuntResult, path) -> pathlib.Path:
    """Local significance versus score-cut efficiency (sculpted cuts marked open)."""
    eff, z = result.efficiencies, result.z
    sculpted = np.array([c.sculpted for c in result.cuts])
    with plt.style.context(_STYLE):
        fig, ax = plt.subplots(figsize=(10, 8))
        ax.plot(eff, z, "-", color="C0")
        ax.plot(eff[~sculpted], z[~sculpted], "o", color="C0", label="fit ok")
        ax.plot(eff[sculpted], z[sculpted], "o", mfc="none", color="C3", label="sculpted")
        ax.set_xscale("log")
        ax.set_xlabel("score-cut efficiency")
        ax.set_ylabel("local significance Z")
        ax.legend()
        return _save(fig, path)


def plot_scan(centres, z, efficiencies, path, z_spread=None, title=None) -> pathlib.Path:
    """Local Z versus SR-window centre, one line per cut efficiency.

    ``z`` has shape (windows, cuts); ``z_spread`` (same shape, e.g. the std over
    seeds) draws a band.
    """
    centres, z = np.asarray(centres), np.asarray(z, dtype=float)
    with plt.style.context(_STYLE):
        fig, ax = plt.subplots(figsize=(10, 8))
        for j, eff in enumerate(efficiencies):
            ax.plot(centres, z[:, j], "o-", label=f"eff = {eff:g}")
            if z_spread is not None:
                s = np.asarray(z_spread)[:, j]
                ax.fill_between(centres, z[:, j] - s, z[:, j] + s, alpha=0.2)
        ax.axhline(3, color="gray", ls="--", lw=1)
        ax.set_xlabel("signal-region centre [TeV]")
        ax.set_ylabel("local significance Z")
        if title:
            ax.set_title(title, fontsize="medium")
        ax.legend()
        return _save(fig, path)


def _save(fig, path) -> pathlib.Path:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=80, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.remove(tmp)
    return path
