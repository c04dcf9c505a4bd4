"""Known colours spread over the automatic colour, bounded by the photo's lightness edges.

Any model takes colour hints this way (the paper's networks have no hint inputs): the automatic
colour ``ab`` is corrected by a field ``d`` that equals ``hint - ab`` where a hint is given, is
smooth where the lightness is smooth, may jump where the lightness jumps, and fades to nothing
far from any hint. ``d`` minimises, over the pixel grid at the network's resolution,

    sum over hinted pixels r     STRENGTH * w_r * (d_r - (hint_r - ab_r))^2
  + sum over neighbours r, s     exp(-(L_r - L_s)^2 / (2 * edge^2)) * (d_r - d_s)^2
  + sum over pixels r            fade * d_r^2

(Levin, Lischinski & Weiss 2004, "Colorization using optimization", with their affinities
between 4-neighbours and a screening term so that one hint colours its object, not the photo).
``w_r`` in [0, 1] is how much of the pixel the hint covers (a thin stroke shrunk to the network's
resolution covers part of a pixel). The minimiser solves one sparse, symmetric positive definite
system, ``(STRENGTH * W + fade * I + Laplacian) d = STRENGTH * W * (hint - ab)``, for a and b.
"""

from __future__ import annotations

import numpy as np

#: Weight of a fully hinted pixel against the smoothness terms: the hint holds to within a
#: fraction of a percent of its difference from the automatic colour.
STRENGTH = 1e4
#: Lightness difference (CIE L units) between neighbours at which their colours are held together
#: with weight exp(-1/2); a strong edge (several times this) lets the colour jump.
EDGE = 2.0
#: Screening: a hint's reach fades over about 1/sqrt(FADE) pixels of smooth lightness at the
#: network's resolution (about 30 of 256), so one hint colours its object, not the photo.
FADE = 1e-3
#: Where the hints' reach (1 at a hint) is above this, their colour replaces the automatic one;
#: below it, the two are mixed in proportion.
REACH = 0.005


def propagate(
    lum: np.ndarray,
    ab: np.ndarray,
    hint_ab: np.ndarray,
    hint_weight: np.ndarray,
    edge: float | None = None,
    fade: float | None = None,
    reach: float | None = None,
) -> np.ndarray:
    """The automatic colour ``ab`` (h, w, 2) with the hints spread over it (Lab units).

    ``lum`` (h, w): CIE L at the same resolution, the guide; ``hint_ab`` (h, w, 2): the hinted
    colour where ``hint_weight`` (h, w, in [0, 1]) is above 0. No hint returns ``ab`` itself.
    ``edge``, ``fade``, ``reach``: default :data:`EDGE`, :data:`FADE`, :data:`REACH`.
    """
    edge, fade, reach = (
        (EDGE if edge is None else edge),
        (FADE if fade is None else fade),
        (REACH if reach is None else reach),
    )
    weight = np.clip(np.asarray(hint_weight, np.float64), 0.0, 1.0)
    if not weight.any():
        return ab
    h, w = lum.shape
    from scipy.sparse.linalg import factorized

    solve = factorized(_system(np.asarray(lum, np.float64), weight, edge, fade))
    given = STRENGTH * weight.ravel()
    hint = np.asarray(hint_ab, np.float64).reshape(h * w, 2)
    reached = solve(given)  # how strongly the hints reach each pixel: 1 at a hint, fading
    spread = np.stack([solve(given * hint[:, c]) for c in range(2)], axis=1)
    colour = spread / np.maximum(reached, 1e-12)[:, None]  # the hints' colour, nearest weigh most
    share = np.clip(reached / reach, 0.0, 1.0).reshape(h, w, 1)
    return (ab + share * (colour.reshape(h, w, 2) - ab)).astype(ab.dtype, copy=False)


def _system(lum: np.ndarray, weight: np.ndarray, edge: float, fade: float):
    """The sparse matrix of the minimisation (CSC): hint weights, screening and the Laplacian of
    the 4-neighbour lightness affinities."""
    from scipy import sparse

    h, w = lum.shape
    index = np.arange(h * w).reshape(h, w)
    pairs, affinities = [], []
    for a_idx, b_idx, diff in (
        (index[:, :-1], index[:, 1:], lum[:, 1:] - lum[:, :-1]),  # left-right
        (index[:-1, :], index[1:, :], lum[1:, :] - lum[:-1, :]),  # up-down
    ):
        pairs.append((a_idx.ravel(), b_idx.ravel()))
        affinities.append(np.exp(-(diff.ravel() ** 2) / (2 * edge**2)))
    rows = np.concatenate([p[0] for p in pairs])
    cols = np.concatenate([p[1] for p in pairs])
    aff = np.concatenate(affinities)
    degree = np.bincount(rows, aff, h * w) + np.bincount(cols, aff, h * w)
    diagonal = degree + fade + STRENGTH * weight.ravel()
    off = sparse.coo_matrix((-aff, (rows, cols)), shape=(h * w, h * w))
    return (off + off.T + sparse.diags(diagonal)).tocsc()
