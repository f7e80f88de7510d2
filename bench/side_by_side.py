#!/usr/bin/env python3
"""darwinhost against PyTorch CPU, side by side, in one command.

    swift build -c release
    python3 bench/side_by_side.py --threads 2 --rounds 3     # needs torch + transformers (bench/pytorch_bench.py)

Runs `darwin-bench forward` and `bench/pytorch_bench.py` alternately, `--rounds` times each (the same model,
shapes and thread count), and prints per measurement the median of each side and the median of the per-round
ratios: on a shared machine whose speed drifts, a ratio of two runs taken back to back is steadier than either.

    python3 bench/side_by_side.py --threads 2 --interleave 15

instead keeps both programs running (`darwin-bench serve`, `pytorch_bench.py --serve`) and alternates single
calls: per operation (forward, KL, training step) `--interleave` pairs, each pair one call of each side back to
back (which side goes first alternates), and reports the median and quartiles of the per-pair ratios.

    python3 bench/side_by_side.py --threads 2 --shape smollm2-360m --interleave 3

does the same on a random checkpoint of a real shape (4 x 512 tokens unless --batch and --seq say otherwise;
darwinhost with its bf16 weights as loaded, PyTorch in float32), written by `darwin-bench scale --shape NAME` first
when it is not in --dir.
"""
import argparse, os, re, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# (label, darwin-bench row prefix, pytorch_bench row prefix); all rows are tokens/s or GFLOP/s (higher is better).
ROWS = [
    ("sgemm 1024^3 ceiling (GFLOP/s)", "sgemm 1024^3 direct", "matmul 1024^3"),
    ("forward 8x512 (tok/s)", "forward 8x512", "forward 8x512"),
    ("KL to top-64 targets 8x512 (tok/s)", "KL to top-64 targets", "KL to top-64 targets"),
    ("training step 8x512 (tok/s)", "training step 8x512", "training step 8x512"),
]


def values(output):
    """Row prefix -> first number after it, for each line of a benchmark's output."""
    out = {}
    for line in output.splitlines():
        m = re.match(r"^(.*?)\s{2,}([0-9.]+) ", line)
        if m:
            out[m.group(1).strip()] = float(m.group(2))
    return out


def pick(table, prefix):
    for name, v in table.items():
        if name.startswith(prefix):
            return v
    raise SystemExit(f"side_by_side: no row starting with '{prefix}' in the benchmark output")


def run(cmd):
    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"side_by_side: {' '.join(cmd)} failed:\n{r.stdout}\n{r.stderr}")
    return r.stdout


class Server:
    """A benchmark program in serve mode: one timed call per request."""

    def __init__(self, cmd):
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.banner = self.proc.stdout.readline().strip()
        if not self.banner.startswith("ready"):
            raise SystemExit(f"side_by_side: {' '.join(cmd)} did not start: {self.banner!r}")

    def seconds(self, operation):
        self.proc.stdin.write(operation + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().strip()
        try:
            return float(answer)
        except ValueError:
            raise SystemExit(f"side_by_side: {' '.join(self.cmd)} answered {answer!r} to {operation}")

    def close(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait()


def interleaved(bench, threads, pairs, gap, model_args=(), operations=("forward", "kl", "train")):
    darwin = Server([bench, "serve", "--threads", str(threads), *model_args])
    torch = Server([sys.executable, os.path.join(HERE, "pytorch_bench.py"), "--threads", str(threads), "--serve", *model_args])
    print(f"darwinhost: {darwin.banner}\nPyTorch:    {torch.banner}")
    print(f"{'operation':12}{'darwinhost s':>14}{'PyTorch s':>12}{'speed ratio: median':>22}{'quartiles':>14}")
    for operation in operations:
        for server in (darwin, torch):  # warm-up calls
            server.seconds(operation)
        ratios, d_times, p_times = [], [], []
        for i in range(pairs):
            order = (darwin, torch) if i % 2 == 0 else (torch, darwin)
            times = {}
            for server in order:
                time.sleep(gap)  # let the other side's threads go idle first
                times[id(server)] = server.seconds(operation)
            d, p = times[id(darwin)], times[id(torch)]
            d_times.append(d); p_times.append(p); ratios.append(p / d)
        q = statistics.quantiles(ratios, n=4)
        print(f"{operation:12}{statistics.median(d_times):14.3f}{statistics.median(p_times):12.3f}"
              f"{statistics.median(ratios):22.2f}{q[0]:8.2f}-{q[2]:.2f}", flush=True)
    darwin.close()
    torch.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--interleave", type=int, default=0, metavar="PAIRS",
                    help="alternate single calls of both programs kept running, PAIRS pairs per operation")
    ap.add_argument("--gap", type=float, default=0.5, help="seconds of rest before each interleaved call")
    ap.add_argument("--shape", help="a real shape (smollm2-360m, qwen2.5-0.5b, llama-3.2-1b) at --batch x --seq tokens, interleaved; "
                                    "its checkpoint comes from `darwin-bench scale --shape NAME` in --dir")
    ap.add_argument("--batch", type=int, default=4, help="sequences per call with --shape")
    ap.add_argument("--seq", type=int, default=512, help="tokens per sequence with --shape")
    ap.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "darwin-real-shapes"))
    ap.add_argument("--ops", default="forward,kl,train", help="interleaved operations, comma-separated")
    a = ap.parse_args()
    bench = os.path.join(ROOT, ".build", "release", "darwin-bench")
    if not os.path.exists(bench):
        raise SystemExit("side_by_side: build first: swift build -c release")
    if a.shape:
        model = os.path.join(a.dir, a.shape)
        if not os.path.exists(os.path.join(model, "config.json")):
            run([bench, "scale", "--shape", a.shape, "--dir", a.dir])  # writes the random checkpoint (and measures it)
        interleaved(bench, a.threads, max(a.interleave, 3), a.gap, ["--model", model, "--batch", str(a.batch), "--seq", str(a.seq)], a.ops.split(","))
        return
    if a.interleave > 0:
        interleaved(bench, a.threads, a.interleave, a.gap, operations=a.ops.split(","))
        return
    darwin, torch = [], []
    for r in range(a.rounds):
        print(f"round {r + 1}/{a.rounds}", file=sys.stderr)
        darwin.append(values(run([bench, "forward", "--threads", str(a.threads)])))
        torch.append(values(run([sys.executable, os.path.join(HERE, "pytorch_bench.py"), "--threads", str(a.threads)])))
    print(f"{'measurement':38}{'darwinhost':>12}{'PyTorch':>12}{'ratio':>8}   per-round ratios")
    for label, dk, tk in ROWS:
        d = [pick(t, dk) for t in darwin]
        p = [pick(t, tk) for t in torch]
        ratios = [x / y for x, y in zip(d, p)]
        print(f"{label:38}{statistics.median(d):12.1f}{statistics.median(p):12.1f}{statistics.median(ratios):8.2f}   "
              + " ".join(f"{x:.2f}" for x in ratios))
    print(f"darwinhost useful forward FLOP rate / its sgemm ceiling: "
          f"{statistics.median(pick(t, 'forward useful FLOP rate') / pick(t, 'sgemm 1024^3 direct') for t in darwin):.2f}")
    print(f"50% heads+neurons candidate KL time / dense KL time: "
          f"{statistics.median(pick(t, 'KL, 50% heads+neurons') / (4096 / pick(t, 'KL to top-64 targets')) for t in darwin):.2f}")


if __name__ == "__main__":
    main()
