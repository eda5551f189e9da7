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


def plot_fits(result: BumpHuntResult, path, title=None) -> pathlib.Path:
    """Every cut of one window side by side: m_jj after the cut with its fit (log y), pulls below."""
    cuts = [i for i, c in enumerate(result.cuts) if c.fit is not None]
    if not cuts:
        raise ValueError("no cut of this window has a fit")
    edges = result.edges
    centres, widths = 0.5 * (edges[1:] + edges[:-1]), np.diff(edges)
    with plt.style.context(_STYLE):
        fig, axes = plt.subplots(2, len(cuts), sharex=True, squeeze=False, figsize=(7 * len(cuts), 8),
                                 gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05})
        for col, i in enumerate(cuts):
            c, ax, axp = result.cuts[i], axes[0, col], axes[1, col]
            fit = c.fit
            mplhep.histplot(fit.counts, edges, yerr=np.sqrt(fit.counts), histtype="errorbar", color="k",
                            label="data", ax=ax)
            mplhep.histplot(fit.expected(), edges, color="C0", label=f"{fit.n_params}-par. dijet fit", ax=ax)
            for a in (ax, axp):
                a.axvspan(*result.sr, color="C1", alpha=0.2)
            ax.set_yscale("log")
            ax.legend(fontsize="small", title_fontsize="small",
                      title=f"eff {c.efficiency:g}: Z = {c.z:.1f}" + (" (sculpted)" if c.sculpted else ""))
            pulls = fit.pulls()
            axp.bar(centres, pulls, width=widths, color=np.where(fit.fitted, "C0", "C1"))
            axp.axhline(0, color="k", lw=1)
            axp.set_ylim(-5, 5)
            axp.set_xlabel("$m_{jj}$ [TeV]")
        axes[0, 0].set_ylabel("events / bin")
        axes[1, 0].set_ylabel("pull")
        if title:
            fig.suptitle(title, fontsize="medium")
        return _save(fig, path)


def plot_toys(toy_max_z, z_observed, path, z_global=None) -> pathlib.Path:
    """Background-only pseudo-experiments: the distribution of the scan's largest local Z, and the data's."""
    toy_max_z = np.asarray(toy_max_z, dtype=float)
    with plt.style.context(_STYLE):
        fig, ax = plt.subplots(figsize=(10, 8))
        top = max(float(np.max(toy_max_z, initial=0.0)), float(z_observed), 4.0) + 0.5
        ax.hist(toy_max_z, bins=np.linspace(0, top, 40), color="C0", alpha=0.7,
                label=f"{len(toy_max_z)} background-only pseudo-experiments")
        label = f"data: max local Z = {z_observed:.2f}"
        if z_global is not None:
            label += f", global Z = {z_global:.2f}"
        ax.axvline(z_observed, color="C3", lw=2, label=label)
        ax.set_xlabel("largest local significance over windows and cuts")
        ax.set_ylabel("pseudo-experiments")
        ax.legend(fontsize="small")
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
