#!/bin/sh
# Runs a real program under glibc and under an allocmark malloc library; outputs must match and
# the library must report itself active. Layer: allocators/shim tests (CTest label e2e).
# usage: e2e_test.sh LIB BACKEND PROGRAM_NAME PROGRAM_PATH
set -eu
lib=$1 backend=$2 prog=$3 exe=$4
work=$(mktemp -d "${TMPDIR:-/tmp}/amk-e2e.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Deterministic, allocation-heavy workloads; each prints only content-derived output.
run() {  # run DIR [env...]: executes the workload with the given extra environment in DIR
  dir=$1; shift
  mkdir -p "$dir"
  case $prog in
    python3)
      env "$@" PYTHONMALLOC=malloc PYTHONHASHSEED=0 "$exe" -c '
import hashlib, json, collections
d = {str(i): [j * i for j in range(i % 50)] for i in range(20000)}
s = json.dumps(d, sort_keys=True)
print(len(s), hashlib.sha256(s.encode()).hexdigest())
words = sorted(str(i * 7919 % 10007) * 3 for i in range(100000))
print(words[:3], words[-1], sum(map(len, words)))
c = collections.Counter(w[:2] for w in words)
print(c.most_common(5))
objs = [bytearray(i % 4000) for i in range(30000)]
del objs[::2]
print(sum(len(o) for o in objs))
' ;;
    sqlite3)
      env "$@" "$exe" :memory: '
create table t(id integer primary key, k text, v integer);
with recursive n(i) as (select 1 union all select i + 1 from n where i < 60000)
insert into t(k, v) select printf("key%07d", (i * 7919) % 60000), i % 97 from n;
create index tk on t(k);
select count(*), sum(v), min(k), max(k) from t;
select v, count(*) from t group by v order by count(*) desc, v limit 5;
select group_concat(k, ",") from (select k from t where v = 3 order by k limit 20);
update t set k = upper(k) || k where id % 3 = 0;
delete from t where v > 50;
select count(*), length(group_concat(k)) from t;
' ;;
    perl)
      env "$@" "$exe" -e '
my %h; for my $i (1 .. 200000) { $h{"k$i"} = "v" x ($i % 37) }
my $t = 0; $t += length($h{$_}) for keys %h;
print scalar(keys %h), " $t\n";
print join(",", (sort keys %h)[0 .. 5]), "\n";
my @a = map { [$_, $_ * 2] } 1 .. 100000; my $s = 0; $s += $_->[1] for @a; print "$s\n";
delete @h{grep { /7/ } keys %h}; print scalar(keys %h), "\n";
' ;;
    git)
      (
        cd "$dir"
        export GIT_CONFIG_NOSYSTEM=1 HOME="$dir" GIT_AUTHOR_NAME=amk GIT_AUTHOR_EMAIL=a@b.c \
          GIT_COMMITTER_NAME=amk GIT_COMMITTER_EMAIL=a@b.c \
          GIT_AUTHOR_DATE="2024-01-01T00:00:00Z" GIT_COMMITTER_DATE="2024-01-01T00:00:00Z"
        env "$@" "$exe" init -q -b main repo
        cd repo
        i=0
        while [ $i -lt 5 ]; do
          seq 1 $((2000 * (i + 1))) | sed "s/^/line $i /" > "file$i.txt"
          env "$@" "$exe" add "file$i.txt"
          env "$@" "$exe" commit -q -m "commit $i"
          i=$((i + 1))
        done
        env "$@" "$exe" log --format='%H %s' --stat
        env "$@" "$exe" gc -q
        env "$@" "$exe" rev-list --all --objects | sort
      ) ;;
    *) echo "unknown program $prog" >&2; exit 2 ;;
  esac
}

run "$work/ref" > "$work/ref.out"
run "$work/amk" LD_PRELOAD="$lib" ALLOCMARK_SHIM_REPORT=1 > "$work/amk.out" 2> "$work/amk.err"
if ! cmp -s "$work/ref.out" "$work/amk.out"; then
  echo "FAIL: $prog output under $backend differs from glibc" >&2
  diff "$work/ref.out" "$work/amk.out" | head -20 >&2
  exit 1
fi
if ! grep -q "allocmark shim: $backend active" "$work/amk.err"; then
  echo "FAIL: $prog did not run on the $backend library (no report line); stderr:" >&2
  head -20 "$work/amk.err" >&2
  exit 1
fi
echo "ok: $prog under $backend: $(wc -c < "$work/ref.out") bytes of identical output"
grep -m1 "allocmark shim:" "$work/amk.err"
