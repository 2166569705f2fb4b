"""Writes the programs suite's cppcheck input: FILES C sources (and a shared header) of
generated functions with structs, loops, pointer arithmetic, macros, switch statements and a
few planted defects (null dereference, out-of-bounds index, leak), so every checker has work.
Usage: gen_c.py OUTDIR [FILES FUNCS]. Deterministic (fixed seed)."""
import os
import random
import sys


def func(rng, f, i):
    n = rng.randrange(4, 64)
    body = ["static int f%d_%d(struct rec *r, int *v, int n)" % (f, i), "{",
            "    int acc = %d, k;" % rng.randrange(100),
            "    char buf[%d];" % n,
            "    int *p = malloc(sizeof(int) * (n + %d));" % rng.randrange(1, 9),
            "    if (!p) return -1;"]
    for j in range(rng.randrange(3, 9)):
        kind = rng.randrange(6)
        if kind == 0:
            body.append("    for (k = 0; k < n && k < %d; k++) {"
                        " p[k] = v[k] * %d + r->a; acc += p[k] %% %d; }"
                        % (n, rng.randrange(1, 9), rng.randrange(2, 99)))
        elif kind == 1:
            body.append("    switch (acc & 7) { case 0: acc += r->b; break;"
                        " case %d: acc -= CLAMP(r->c, 0, %d); break;"
                        " default: acc ^= %d; }" % (rng.randrange(1, 7), rng.randrange(10, 100),
                                                   rng.randrange(1000)))
        elif kind == 2:
            body.append("    snprintf(buf, sizeof(buf), \"%d-%s\", acc, r->name);")
            body.append("    acc += (int)strlen(buf);")
        elif kind == 3:
            body.append("    if (r->next && r->next->a > %d) acc += f%d_%d(r->next, v, n / 2);"
                        % (rng.randrange(100), f, max(0, i - 1)) if i > 0 else
                        "    acc += r->a * %d;" % rng.randrange(9))
        elif kind == 4:
            body.append("    while (acc > %d) { acc /= 2; if (acc %% 3 == 0) break; }"
                        % rng.randrange(50, 5000))
        else:
            body.append("    { struct rec *q = r; int d = 0;"
                        " while (q && d < %d) { acc += q->b; q = q->next; d++; } }"
                        % rng.randrange(2, 20))
    defect = rng.randrange(12)
    if defect == 0:
        body.append("    { int *z = 0; if (acc > 1000000) acc += *z; }")
    elif defect == 1:
        body.append("    buf[%d] = 0;" % n)
    elif defect == 2:
        body.append("    if (acc < 0) return acc;")
    body += ["    free(p);", "    return acc;", "}"]
    return body


def main():
    outdir = sys.argv[1]
    files = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    funcs = int(sys.argv[3]) if len(sys.argv) > 3 else 60
    rng = random.Random(2024)
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "common.h"), "w") as h:
        h.write("#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n"
                "#define CLAMP(x, lo, hi) ((x) < (lo) ? (lo) : (x) > (hi) ? (hi) : (x))\n"
                "struct rec { int a, b, c; char name[16]; struct rec *next; };\n")
    for f in range(files):
        lines = ['#include "common.h"']
        for i in range(funcs):
            lines += func(rng, f, i)
        lines += ["int entry%d(struct rec *r, int *v, int n)" % f, "{", "    int s = 0;"]
        lines += ["    s += f%d_%d(r, v, n);" % (f, i) for i in range(funcs)]
        lines += ["    return s;", "}"]
        with open(os.path.join(outdir, "unit%02d.c" % f), "w") as out:
            out.write("\n".join(lines) + "\n")


main()
