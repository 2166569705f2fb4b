"""One colour per allocator, the same in every chart and every run (colour-blind safe).
Layer: plot/ shared helper; no third-party imports.

Known allocators have a fixed colour, so glibc is black in every report ever drawn. Other names
take the remaining colours in sorted-name order, so the mapping depends only on the set of names.
"""

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision
# deficiencies. Extended by Paul Tol's "muted" scheme (also colour-blind safe) for more than 8.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
_TOL_MUTED = ["#332288", "#117733", "#44AA99", "#882255", "#999933", "#AA4499", "#88CCEE",
              "#DDCC77"]

_FIXED = {
    "glibc": OKABE_ITO["black"],
    "mimalloc": OKABE_ITO["vermillion"],
    "tcmalloc": OKABE_ITO["blue"],
    "jemalloc": OKABE_ITO["bluish_green"],
    "bump": OKABE_ITO["orange"],
    "arena": OKABE_ITO["reddish_purple"],
    "pool": OKABE_ITO["sky_blue"],
    "null": OKABE_ITO["yellow"],
    "tbbmalloc": _TOL_MUTED[3],
}
_SPARE = [c for c in _TOL_MUTED if c not in _FIXED.values()]

# Reference marks (the 1.0 line, requested live bytes) use grey so they never read as an allocator.
REFERENCE = "#777777"
# Pale yellow needs a dark outline on white to be seen at all.
_NEEDS_EDGE = {OKABE_ITO["yellow"], "#DDCC77", "#88CCEE"}


def colours(names):
    """Returns {allocator name: hex colour} for the given names (any order, duplicates ok)."""
    names = sorted(set(names))
    out = {n: _FIXED[n] for n in names if n in _FIXED}
    spare = list(_SPARE)
    i = 0
    for n in names:
        if n in out:
            continue
        if i < len(spare):
            out[n] = spare[i]
        else:
            # Past 15 distinct allocators the palette repeats; charts still label every series.
            out[n] = (list(OKABE_ITO.values()) + _SPARE)[i % (8 + len(_SPARE))]
        i += 1
    return out


def edge(colour):
    """Outline colour for a filled mark of this colour (pale fills get a dark edge)."""
    return "#333333" if colour in _NEEDS_EDGE else colour
