#!/usr/bin/env bash
# Measured causes of replay-vs-program differences (docs/fidelity.md, "Measured causes").
# Usage: bench/fidelity_probe.sh [OUT] [--parts cg,cgfull,startup,cpu,faults] [--validate DIR]
#   cg       callgrind --cache-sim=yes (cachegrind's cache simulator, plus the object of every
#            function and the call counts) of shortened programs, each under glibc and every
#            preloaded allocator, and of the serial replay of each program's recorded trace;
#            split into the allocator's own cost and the rest (bench/fidelity/cg_split.py).
#            Also the malloc-family calls the program made against the events its trace holds.
#   cgfull   the same split for the program alone at the suite's size: sqlite, glibc and mimalloc.
#   startup  start-up cost of each allocator library: hyperfine (ms) and callgrind (instructions)
#            of /bin/true and python3 -c pass with and without the preload.
#   cpu      user + sys CPU of the suite's z3, perl and sqlite at full size under glibc, mimalloc,
#            jemalloc and glibc again: hyperfine, 10 runs each (in blocks, not interleaved).
#   faults   minor faults, sys time and peak RSS of program cells against their replays, from
#            an `allocmark validate` output (--validate DIR, or one run here: python,lua,sqlite,z3).
# Prints the tables; raw outputs stay in OUT (default: a new temporary directory).
# Cost on the 2-vCPU machine: cg 10-12 min (two jobs at a time), cgfull 4-5 min, startup 1 min,
# cpu 3 min, faults 3-4 min (none with --validate).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$here/.."
build="${BUILD:-$root/build/release}"
bin="$build/harness/allocmark"
worker="$build/harness/allocmark-worker"
progs="$root/workloads/suites/programs"
out=""; parts="cg,cgfull,startup,cpu,faults"; vdir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --parts) parts="$2"; shift 2 ;;
    --validate) vdir="$2"; shift 2 ;;
    *) out="$1"; shift ;;
  esac
done
out="${out:-$(mktemp -d /tmp/fidelity_probe.XXXXXX)}"
mkdir -p "$out"
for t in valgrind hyperfine; do
  command -v "$t" >/dev/null || { echo "fidelity_probe: $t is not installed" >&2; exit 2; }
done
libdir=/usr/lib/x86_64-linux-gnu
# allocator|library ("" for glibc)|substring naming the library's object in callgrind's output
allocs=(
  "glibc||glibc"
  "mimalloc|$libdir/libmimalloc.so.2|libmimalloc"
  "tcmalloc|$libdir/libtcmalloc_minimal.so.4|libtcmalloc"
  "jemalloc|$libdir/libjemalloc.so.2|libjemalloc"
  "pool-malloc|$build/allocators/shim/libamk_pool.so|libamk_pool"
)
echo "fidelity_probe: output in $out; $(uptime)"

has() { [[ ",$parts," == *",$1,"* ]]; }

# ---- callgrind of shortened programs and of their replays ----------------------------------
if has cg; then
  cg="$out/cg"; mkdir -p "$cg/work"
  ( cd "$cg/work"
    python3 "$progs/gen_smt.py" z3.smt2 2                # the suite's size: z3 is the question
    python3 "$progs/gen_sqlite.py" load.sql 1500 10000 )
  # name|environment|command (run in $cg/work): the suite's programs at a fraction of their size
  programs=(
    "python|PYTHONMALLOC=malloc PYTHONHASHSEED=0 LC_ALL=C|/usr/bin/python3 -s $progs/churn.py 1"
    "perl|PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0 LC_ALL=C|perl $progs/churn.pl 1"
    "lua|LC_ALL=C|lua5.4 $progs/churn.lua 1"
    "sqlite|LC_ALL=C|sqlite3 -batch -init /dev/null :memory: '.read load.sql'"
    "z3|LC_ALL=C|z3 z3.smt2"
  )
  jobs="$cg/jobs.txt"; : > "$jobs"
  # The simulated last level is this machine's 2 MiB L2 (per core), not the 480 MiB L3 that
  # valgrind reads from CPUID: with that, "LL misses" would count only first touches.
  cgopts="--tool=callgrind --cache-sim=yes --LL=2097152,16,64"
  for p in "${programs[@]}"; do
    IFS='|' read -r name envs cmd <<<"$p"
    # One recording per program, nothing preloaded (as validate records).
    ( cd "$cg/work" && eval "env $envs $bin record -o ../$name.amt -- $cmd" >/dev/null 2>"$cg/$name.record.log" )
    for a in "${allocs[@]}"; do
      IFS='|' read -r an lib _ <<<"$a"
      pre=""; [ -n "$lib" ] && pre="LD_PRELOAD=$lib"
      echo "cd $cg/work && env $envs $pre valgrind $cgopts --callgrind-out-file=../$name.prog.$an.cg $cmd >/dev/null 2>../$name.prog.$an.log" >> "$jobs"
      # Under valgrind LD_PRELOAD also names valgrind's own preloads, and the worker refuses
      # to replay when malloc is not served by a library named there: glibc's replay names libc.
      rpre="$pre"; [ -z "$lib" ] && rpre="LD_PRELOAD=$libdir/libc.so.6"
      echo "cd $cg/work && env $rpre valgrind $cgopts --callgrind-out-file=../$name.replay.$an.cg $worker --trace ../$name.amt --allocator $an --kind preload --mode serial --touch pages --result-fd 1 >../$name.replay.$an.out 2>../$name.replay.$an.log" >> "$jobs"
    done
  done
  # Two at a time: instruction and simulated-cache counts do not depend on the load.
  tr '\n' '\0' < "$jobs" | xargs -0 -P 2 -I{} bash -c '{}'
  for p in "${programs[@]}"; do
    IFS='|' read -r name _ _ <<<"$p"
    "$bin" trace info --json "$cg/$name.amt" > "$cg/$name.info.json"
    for a in "${allocs[@]}"; do
      IFS='|' read -r an _ obj <<<"$a"
      for what in prog replay; do
        python3 "$here/fidelity/cg_split.py" "$cg/$name.$what.$an.cg" "$obj" > "$cg/$name.$what.$an.json"
      done
    done
  done
  python3 "$here/fidelity/report.py" cg "$cg" | tee "$out/cg.txt"
fi

# ---- callgrind of the full-size sqlite, glibc and mimalloc: locality grows with the heap -------
if has cgfull; then
  cf="$out/cgfull"; mkdir -p "$cf"
  python3 "$progs/gen_sqlite.py" "$cf/load.sql" 15000 100000
  for a in "glibc||glibc" "mimalloc|$libdir/libmimalloc.so.2|libmimalloc"; do
    IFS='|' read -r an lib obj <<<"$a"
    pre="X=1"; [ -n "$lib" ] && pre="LD_PRELOAD=$lib"
    ( cd "$cf" && env "$pre" valgrind --tool=callgrind --cache-sim=yes --LL=2097152,16,64 \
        --callgrind-out-file="sqlite.$an.cg" sqlite3 -batch -init /dev/null :memory: '.read load.sql' \
        >/dev/null 2>"sqlite.$an.log"
      python3 "$here/fidelity/cg_split.py" "sqlite.$an.cg" "$obj" > "sqlite.$an.json" ) &
  done
  wait
  for an in glibc mimalloc; do echo "sqlite full size, $an: $(cat "$cf/sqlite.$an.json")"; done |
    tee "$out/cgfull.txt"
fi

# ---- start-up cost of each allocator library -------------------------------------------------
if has startup; then
  st="$out/startup"; mkdir -p "$st"
  hf=(); names=()
  for a in "${allocs[@]}"; do
    IFS='|' read -r an lib _ <<<"$a"
    pre="LD_PRELOAD=$lib"; [ -z "$lib" ] && pre="X=1"
    hf+=("env $pre /bin/true" "env $pre /usr/bin/python3 -c pass")
    for c in /bin/true "/usr/bin/python3 -c pass"; do
      # shellcheck disable=SC2086
      env $pre valgrind --tool=callgrind --callgrind-out-file="$st/$an.$(basename ${c%% *}).cg" $c 2>&1 |
        sed -n 's/^==[0-9]*== Collected : *\([0-9]*\).*/\1/p' > "$st/$an.$(basename ${c%% *}).ir"
    done
  done
  echo "startup: $(uptime)" > "$st/load.txt"
  hyperfine -N -w 3 -r 20 --export-json "$st/hyperfine.json" "${hf[@]}" >/dev/null 2>&1
  echo "startup: $(uptime)" >> "$st/load.txt"
  python3 "$here/fidelity/report.py" startup "$st" | tee "$out/startup.txt"
fi

# ---- CPU time of full-size programs under glibc, mimalloc and jemalloc, glibc first and last ----
if has cpu; then
  pc="$out/cpu"; mkdir -p "$pc"
  python3 "$progs/gen_smt.py" "$pc/problem.smt2" 2
  python3 "$progs/gen_sqlite.py" "$pc/load.sql" 15000 100000
  echo "cpu: $(uptime)" > "$pc/load.txt"
  for p in z3 perl sqlite; do
    case "$p" in
      z3) cmd="z3 $pc/problem.smt2" ;;
      perl) cmd="env PERL_HASH_SEED=0 PERL_PERTURB_KEYS=0 LC_ALL=C perl $progs/churn.pl 4" ;;
      sqlite) cmd="sqlite3 -batch -init /dev/null :memory: '.read $pc/load.sql'" ;;
    esac
    hz=("env X=glibc $cmd")
    for a in "${allocs[@]}"; do
      IFS='|' read -r an lib _ <<<"$a"
      case "$an" in mimalloc|jemalloc) hz+=("env LD_PRELOAD=$lib $cmd") ;; esac
    done
    hz+=("env X=glibc-again $cmd")   # hyperfine runs each command's runs in one block: drift shows
    hyperfine -N -w 1 -r 10 --export-json "$pc/$p.json" "${hz[@]}" >/dev/null 2>&1
  done
  echo "cpu: $(uptime)" >> "$pc/load.txt"
  python3 "$here/fidelity/report.py" cpu "$pc" | tee "$out/cpu.txt"
fi

# ---- page faults and RSS: program cells against replays ----------------------------------------
if has faults; then
  if [ -z "$vdir" ]; then
    vdir="$out/validate"
    "$bin" validate --suite programs --only python,lua,sqlite,z3 --reps 3 --out "$vdir" --quiet
  fi
  python3 "$here/fidelity/report.py" faults "$vdir" | tee "$out/faults.txt"
fi
