# The programs suite's python3 cell: object and string churn (dicts, lists, tuples, str building,
# bytes), deterministic (fixed seed, no hash-order dependence); prints a checksum.
import random
import sys
import zlib

def main():
    rng = random.Random(20240611)
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 12
    crc = 0
    index = {}
    for r in range(rounds):
        # a table of records: dicts of mixed values, keyed by built strings
        table = {}
        for i in range(20000):
            key = "k%d-%d-%s" % (r, i, "x" * (i % 17))
            table[key] = {"id": i, "name": "n" + str(rng.random()), "tags": [i, i * 2, str(i)],
                          "pair": (r, i)}
        # churn: drop a third, rebuild strings from the rest
        for i in range(0, 20000, 3):
            del table["k%d-%d-%s" % (r, i, "x" * (i % 17))]
        parts = []
        for key in sorted(table):
            rec = table[key]
            parts.append("%s=%d:%s;" % (key, rec["id"], ",".join(map(str, rec["tags"]))))
        text = "".join(parts)
        crc = zlib.crc32(text.encode(), crc)
        # lists of tuples sorted and sliced, a long-lived index that grows and is pruned
        rows = [(rng.randrange(1000), s) for s in text.split(";")[:15000]]
        rows.sort()
        for n, s in rows[::7]:
            index.setdefault(n, []).append(s[:24])
        if len(index) > 500:
            for n in list(index)[:250]:
                del index[n]
        words = text.replace("=", " ").replace(":", " ").split()
        counts = {}
        for w in words:
            counts[w[:6]] = counts.get(w[:6], 0) + 1
        crc = zlib.crc32(repr(sorted(counts.items())[:200]).encode(), crc)
        blob = b"".join(s.encode() * 3 for s in words[:5000])
        crc = zlib.crc32(blob[::5], crc)
    total = sum(len(v) for v in index.values())
    print("rounds %d index %d entries %d crc %08x" % (rounds, len(index), total, crc))

main()
