#!/usr/bin/env python3
"""lm-evaluation-harness on a model and a generic task file, against scripts/evaluate.lua's report (run by hand).

    pip install torch transformers lm_eval accelerate
    darwinhost scripts/evaluate.lua --model DIR --tasks task.jsonl --output /tmp/ours
    python bench/lm_eval_compare.py DIR task.jsonl /tmp/ours.json [--threads 2]

The task file holds {context, choices, gold, target_delimiter} rows (scripts/cloze_task.lua writes them). Prints
lm-eval's acc / acc_norm and wall time beside darwinhost's, and the largest difference of a per-choice log-likelihood.
"""
import argparse, json, os, tempfile, time

import torch


def main():
    p = argparse.ArgumentParser()
    p.add_argument("model"); p.add_argument("task"); p.add_argument("ours")
    p.add_argument("--threads", type=int, default=2); p.add_argument("--batch-size", type=int, default=8)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    os.environ.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    import lm_eval, yaml
    from lm_eval.tasks import TaskManager
    rows = [json.loads(l) for l in open(a.task, encoding="utf-8") if l.strip()]
    delimiter = rows[0].get("target_delimiter", " ")
    directory = tempfile.mkdtemp()
    with open(os.path.join(directory, "generic.yaml"), "w") as f:
        yaml.safe_dump({"task": "generic_file", "dataset_path": "json", "dataset_kwargs": {"data_files": {"test": os.path.abspath(a.task)}},
                        "test_split": "test", "output_type": "multiple_choice", "doc_to_text": "context", "doc_to_choice": "choices",
                        "doc_to_target": "gold", "target_delimiter": delimiter,
                        "metric_list": [{"metric": "acc"}, {"metric": "acc_norm"}]}, f)
    start = time.time()
    results = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={a.model},dtype=float32", tasks=["generic_file"],
                                      task_manager=TaskManager(include_path=directory), batch_size=a.batch_size, device="cpu",
                                      log_samples=True, num_fewshot=0)
    seconds = time.time() - start
    agg = results["results"]["generic_file"]
    ours = json.load(open(a.ours))["models"][0]["tasks"][0]
    worst, worst_absolute, worst_at = 0.0, 0.0, None
    for s in results["samples"]["generic_file"]:
        mine = ours["questions"][s["doc_id"]]["loglikelihoods"]
        for k, (ll, r) in enumerate(zip(mine, s["resps"])):
            worst = max(worst, abs(ll - r[0][0]) / max(1.0, abs(r[0][0])))
            if abs(ll - r[0][0]) > worst_absolute: worst_absolute, worst_at = abs(ll - r[0][0]), (s["doc_id"], k, r[0][0], ll)
    print(f"lm-eval {lm_eval.__version__}: acc {agg['acc,none']:.4f} acc_norm {agg['acc_norm,none']:.4f} in {seconds:.1f} s "
          f"({a.threads} threads, batch {a.batch_size}, including model load)")
    print(f"darwinhost: acc {ours['acc']:.4f} acc_norm {ours['acc_norm']:.4f}")
    print(f"largest relative difference of a per-choice log-likelihood: {worst:.2e} over {len(results['samples']['generic_file'])} questions; "
          f"largest absolute {worst_absolute:.2e} (question, choice, lm-eval, darwinhost: {worst_at})")


if __name__ == "__main__":
    main()
