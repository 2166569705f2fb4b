"""Writes the programs suite's z3 input (SMT-LIB 2), push/pop blocks of two kinds: factoring a
semiprime by bit-blasting a bit-vector multiplication (x * y = N, 1 < x <= y; one model, so the
printed values are deterministic), and random linear integer constraints over an uninterpreted
function (arithmetic and congruence closure together). Usage: gen_smt.py OUT.smt2 [BLOCKS].
Deterministic (fixed seed)."""
import random
import sys


def is_prime(n):
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True


def main():
    out = sys.argv[1]
    blocks = int(sys.argv[2]) if len(sys.argv) > 2 else 6
    rng = random.Random(99)
    s = ["(set-option :produce-models true)", "(set-logic ALL)",
         "(declare-fun g (Int) Int)"]
    for b in range(blocks):
        # factoring: two k-bit primes, a (2k+2)-bit multiplication
        k = 14 + b % 2
        p = q = 0
        while p == q:
            p, q = (next(n for n in iter(lambda: rng.randrange(2**(k - 1), 2**k) | 1, 0)
                         if is_prime(n)) for _ in range(2))
        w = 2 * k + 2
        s += ["(push 1)", "(declare-const x (_ BitVec %d))" % w,
              "(declare-const y (_ BitVec %d))" % w,
              "(assert (= (bvmul x y) (_ bv%d %d)))" % (p * q, w),
              "(assert (bvult x (_ bv%d %d)))" % (2**(k + 1), w),
              "(assert (bvult y (_ bv%d %d)))" % (2**(k + 1), w),
              "(assert (bvugt x (_ bv1 %d)))" % w, "(assert (bvule x y))",
              "(check-sat)", "(get-value (x y))", "(pop 1)"]
        # integers and an uninterpreted function
        iv = ["i%d_%d" % (b, i) for i in range(30)]
        s.append("(push 1)")
        s += ["(declare-const %s Int)" % v for v in iv]
        for v in iv:
            s.append("(assert (and (<= -100 %s) (<= %s 100) (<= -100 (g %s)) (<= (g %s) 100)))"
                     % (v, v, v, v))
        for _ in range(45):
            terms = " ".join("(* %d %s)" % (rng.randrange(-9, 10), v) for v in rng.sample(iv, 4))
            s.append("(assert (%s (+ %s (g %s)) %d))" % (
                rng.choice(["<=", ">="]), terms, rng.choice(iv),
                rng.randrange(-60, 60)))
        s += ["(check-sat)", "(pop 1)"]
    with open(out, "w") as f:
        f.write("\n".join(s) + "\n")


main()
