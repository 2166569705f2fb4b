"""Writes the programs suite's ghostscript input: a PostScript document of PAGES pages, each
with random filled and stroked Bezier paths, clipped gradients (shfill), rotated text in the
base-35 fonts and a small image. Usage: gen_ps.py OUT.ps [PAGES]. Deterministic (fixed seed)."""
import random
import sys

def main():
    out = sys.argv[1]
    pages = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    rng = random.Random(31337)
    fonts = ["Times-Roman", "Helvetica-Bold", "Courier", "Palatino-Italic",
             "NewCenturySchlbk-Roman"]
    words = ["allocator", "arena", "bump", "pool", "churn", "larson", "fragment", "resident",
             "thread", "cache", "page", "span", "slab", "heap", "free", "list"]
    p = ["%!PS-Adobe-3.0", "%%%%Pages: %d" % pages, "%%BoundingBox: 0 0 612 792",
         "%%EndComments"]
    p.append("/r { rand 1000 mod 1000 div } bind def")
    for page in range(1, pages + 1):
        p.append("%%%%Page: %d %d" % (page, page))
        p.append("gsave")
        # random paths: curves, fills with random RGB, strokes with dash patterns
        for _ in range(700):
            x, y = rng.uniform(0, 612), rng.uniform(0, 792)
            seg = []
            for _ in range(rng.randrange(2, 6)):
                seg.append("%.1f %.1f %.1f %.1f %.1f %.1f curveto" % tuple(
                    (x if i % 2 == 0 else y) + rng.uniform(-90, 90) for i in range(6)))
            p.append("newpath %.1f %.1f moveto %s closepath" % (x, y, " ".join(seg)))
            p.append("%.2f %.2f %.2f setrgbcolor" % (rng.random(), rng.random(), rng.random()))
            if rng.random() < 0.5:
                p.append("gsave eofill grestore")
            p.append("[%d %d] 0 setdash %.1f setlinewidth stroke" % (
                rng.randrange(1, 9), rng.randrange(1, 9), rng.uniform(0.2, 4)))
        # axial shadings clipped to circles
        for _ in range(12):
            cx, cy, rad = rng.uniform(50, 560), rng.uniform(50, 740), rng.uniform(20, 120)
            p.append("gsave newpath %.1f %.1f %.1f 0 360 arc clip" % (cx, cy, rad))
            p.append("<< /ShadingType 2 /ColorSpace /DeviceRGB /Coords [%.1f %.1f %.1f %.1f]"
                     " /Function << /FunctionType 2 /Domain [0 1] /C0 [%.2f %.2f %.2f]"
                     " /C1 [%.2f %.2f %.2f] /N 1 >> /Extend [true true] >> shfill grestore" % (
                         cx - rad, cy, cx + rad, cy, rng.random(), rng.random(), rng.random(),
                         rng.random(), rng.random(), rng.random()))
        # text: many short strings in several fonts, sizes and angles
        for _ in range(250):
            text = " ".join(rng.choice(words) for _ in range(rng.randrange(1, 5)))
            p.append("gsave /%s findfont %.1f scalefont setfont %.1f %.1f translate %d rotate"
                     " 0 0 moveto 0 0 0 setrgbcolor (%s) show grestore" % (
                         rng.choice(fonts), rng.uniform(5, 36), rng.uniform(0, 600),
                         rng.uniform(0, 780), rng.randrange(360), text))
        # a 64x64 RGB image, scaled up
        data = "".join("%02x" % rng.randrange(256) for _ in range(64 * 64 * 3))
        p.append("gsave %.1f %.1f translate 200 200 scale 64 64 8 [64 0 0 64 0 0]"
                 " <%s> false 3 colorimage grestore" % (rng.uniform(0, 400), rng.uniform(0, 590),
                                                       data))
        p.append("grestore showpage")
    p.append("%%EOF")
    with open(out, "w") as f:
        f.write("\n".join(p) + "\n")

main()
