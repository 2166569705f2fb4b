"""Builds the programs suite's git repository: COMMITS commits on one branch, each editing a
few of FILES text files (lines inserted, deleted and changed), imported with `git fast-import`
under a fixed author, committer and dates, so every object id is the same on every machine.
Usage: gen_git.py REPO [COMMITS FILES]. Deterministic (fixed seed); needs git on PATH."""
import os
import random
import subprocess
import sys


def main():
    repo = sys.argv[1]
    commits = int(sys.argv[2]) if len(sys.argv) > 2 else 600
    nfiles = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    rng = random.Random(4711)
    words = ("alloc free span page slab heap arena pool bump chunk bin tcache thread owner "
             "size class bitmap list node queue lock atomic epoch region segment").split()

    def line():
        return " ".join(rng.choice(words) for _ in range(rng.randrange(3, 12)))

    files = {"src/f%03d.txt" % i: [line() for _ in range(rng.randrange(200, 600))]
             for i in range(nfiles)}
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL="/dev/null", LC_ALL="C")
    subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True, env=env)
    stream = []
    for c in range(commits):
        touched = rng.sample(sorted(files), 1 + rng.randrange(4)) if c else sorted(files)
        for name in touched:
            text = files[name]
            for _ in range(rng.randrange(1, 20)):
                at = rng.randrange(len(text) + 1)
                op = rng.randrange(3)
                if op == 0 or len(text) < 50:
                    text[at:at] = [line() for _ in range(rng.randrange(1, 6))]
                elif op == 1:
                    del text[at:at + rng.randrange(1, 4)]
                else:
                    text[min(at, len(text) - 1)] = line()
        when = 1700000000 + c * 3600
        msg = ("commit %d: %s\n" % (c, line())).encode()
        stream.append(b"commit refs/heads/main\n")
        stream.append(b"author Alloc Mark <allocmark@example.org> %d +0000\n" % when)
        stream.append(b"committer Alloc Mark <allocmark@example.org> %d +0000\n" % when)
        stream.append(b"data %d\n%s" % (len(msg), msg))
        for name in touched:
            data = ("\n".join(files[name]) + "\n").encode()
            stream.append(b"M 100644 inline %s\ndata %d\n%s\n" % (name.encode(), len(data), data))
        stream.append(b"\n")
    subprocess.run(["git", "-C", repo, "fast-import", "--quiet"], input=b"".join(stream),
                   check=True, env=env)
    subprocess.run(["git", "-C", repo, "reset", "-q", "--hard", "main"], check=True, env=env)


main()
