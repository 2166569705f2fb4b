"""Traces of any length: generated to a file as events come, checked and replayed in chunks.
A streamed replay must agree with a whole one on what the trace is (events, exact peak live
bytes, statuses) and keep its harness memory flat; a corrupt trace fails with one line."""
import json

from conftest import allocmark, read_lines

FAST = ("--reps", "1", "--warmup", "0", "--precision", "off", "--no-aa", "--no-report")


def gen(tmp_path, name, *args):
    out = tmp_path / f"{name}.amt"
    allocmark("trace", "gen", name, *args, "-o", out, check=True)
    return out


def test_streamed_replay_agrees_with_a_whole_one(tmp_path):
    traces = [gen(tmp_path, "larson", "--threads", "2", "--param", "steps=2000"),
              gen(tmp_path, "phase-reset", "--param", "requests=500"),
              gen(tmp_path, "realloc-growth", "--param", "steps=3000")]
    results = {}
    for mode in ("never", "always"):
        run = tmp_path / mode
        args = [a for t in traces for a in ("--trace", t)]
        allocmark("run", *args, *FAST, "--allocators", "glibc,pool,arena", "--replay", "serial",
                  "--stream", mode, "--out", run, check=True)
        results[mode] = {(l["workload"], l["allocator"]): l for l in read_lines(run)}
    assert results["never"].keys() == results["always"].keys() and len(results["never"]) == 9
    for key, whole in results["never"].items():
        streamed = results["always"][key]
        assert whole["status"] == streamed["status"] == "ok", key
        assert whole["events"] == streamed["events"], key
        # Fragmentation is footprint / peak live bytes: the streamed replay computes the peak
        # itself along the recorded order; it must be the whole trace's exact figure.
        assert peak_live(whole) == peak_live(streamed), key
        assert whole["phase_resets"] == streamed["phase_resets"], key


def peak_live(line):
    footprint = line["peak_rss_bytes"] - line["baseline_rss_bytes"]
    return round(footprint / line["fragmentation"])


def test_trace_info_streams_and_matches_generation(tmp_path):
    out = tmp_path / "churn.amt"
    said = allocmark("trace", "gen", "churn", "--param", "steps=300000", "-o", out,
                     check=True).stdout
    info = json.loads(allocmark("trace", "info", "--json", out, check=True).stdout)
    assert info["events"] == 602000 and info["recorded_order"] is True
    assert f"peak live {info['peak_live_bytes']} bytes" in said


def test_corrupt_streamed_trace_is_one_line(tmp_path):
    out = gen(tmp_path, "churn", "--param", "steps=200000")
    data = bytearray(out.read_bytes())
    data[len(data) // 2] ^= 0x5A
    out.write_bytes(bytes(data))
    r = allocmark("run", "--trace", out, *FAST, "--allocators", "glibc", "--stream", "always",
                  "--out", tmp_path / "run")
    assert r.returncode != 0
    errors = [l for l in r.stderr.splitlines() if l.startswith("allocmark:")]
    assert len(errors) == 1 and "checksum mismatch" in errors[0], r.stderr
