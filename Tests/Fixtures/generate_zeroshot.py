#!/usr/bin/env python3
"""Generates the zero-shot accuracy fixture with lm-evaluation-harness itself (run by hand, not by CI).

    python3 -m venv /tmp/fixenv && /tmp/fixenv/bin/pip install torch transformers lm_eval
    /tmp/fixenv/bin/python Tests/Fixtures/generate_zeroshot.py

Writes, under Tests/Fixtures/zeroshot/:
  tasks/<task>.jsonl   small task files in the datasets' own row layouts (ARC, HellaSwag, PIQA, WinoGrande,
                       BoolQ) and the generic {context, choices, gold} one, with the cases that need care:
                       HellaSwag's [title] markers and capitalisation, a context ending in spaces, an empty context,
                       a BoolQ passage longer than the model's 128-token window, non-ASCII text
  models/<kind>/       a random Llama (config.json, model.safetensors) with one of the tokenizer fixtures
                       (tokenizer.json, tokenizer_config.json): Llama-3-style with BOS, GPT-2-style with only EOS,
                       SentencePiece-style (Metaspace)
  reference.json       per model and task: every request lm-eval made (context, continuation) with its
                       log-likelihood and is_greedy, each question's acc / acc_norm, and the task's aggregates
The tasks run through lm-eval's own task definitions (the installed arc_easy.yaml, hellaswag.yaml with its
utils.py, piqa.yaml, winogrande's default.yaml and preprocess_winogrande.py, super_glue boolq) with only the
dataset pointed at the local file, and its HF model class (pretrained=..., float32, batch size 1).
"""
import json, os, shutil, sys, tempfile
import torch
from safetensors.torch import save_file
from transformers import LlamaConfig, LlamaForCausalLM

ROOT = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(ROOT, "zeroshot")

TASKS = {
    "arc": [
        {"id": "a1", "question": "Which gas do plants take in from the air?",
         "choices": {"text": ["oxygen", "carbon dioxide", "nitrogen", "helium"], "label": ["A", "B", "C", "D"]}, "answerKey": "B"},
        {"id": "a2", "question": "What is 2 + 2?", "choices": {"text": ["3", "4", "22"], "label": ["1", "2", "3"]}, "answerKey": "2"},
        {"id": "a3", "question": "Where does the sun rise?",
         "choices": {"text": ["in the east", "in the west", "in the north", "in the south", "nowhere"],
                     "label": ["A", "B", "C", "D", "E"]}, "answerKey": "A"},
        {"id": "a4", "question": "Which one is a liquid at room temperature? (naïve café)",
         "choices": {"text": ["water", "ice", "steam", "salt"], "label": ["A", "B", "C", "D"]}, "answerKey": "A"},
        {"id": "a5", "question": "A return statement in a function does what?",
         "choices": {"text": ["ends the function", "starts a loop", "imports a module", "raises"], "label": ["A", "B", "C", "D"]},
         "answerKey": "A"},
        {"id": "a6", "question": "What do you call x**2?",
         "choices": {"text": ["x squared", "x cubed", "two x", "x halved"], "label": ["A", "B", "C", "D"]}, "answerKey": "A"},
    ],
    "hellaswag": [
        {"ind": 1, "activity_label": "Removing ice from car", "ctx_a": "Then, the man writes over the snow covering the window of a car, and a woman wearing winter clothes smiles.",
         "ctx_b": "then", "endings": [", the man adds wax to the windshield and cuts it.", ", a person board a ski lift, while two men supporting the head of the person wearing winter clothes snow as the we girls sled.", ", the man puts on a christmas coat, knitted with netting.", ", the man continues removing the snow on his car."],
         "source_id": "x", "split": "val", "split_type": "indomain", "label": "3"},
        {"ind": 2, "activity_label": "Home and Garden", "ctx_a": "[header] How to grow tomatoes [title] Pick a sunny spot.",
         "ctx_b": "WATER them EVERY day", "endings": ["[step] Keep the soil moist.  Do not drown them.", " [title] Add compost [step] Mix it in.", "Paint the fence.", "Sell the car [substep] today."],
         "source_id": "y", "split": "val", "split_type": "zeroshot", "label": "0"},
        {"ind": 3, "activity_label": "Coding", "ctx_a": "A programmer opens an editor.", "ctx_b": "she",
         "endings": ["writes def f(x): return x**2.", "eats the keyboard.", "flies to the moon.", "sings a song."],
         "source_id": "z", "split": "val", "split_type": "indomain", "label": "0"},
        {"ind": 4, "activity_label": "Cooking", "ctx_a": "The chef slices onions.", "ctx_b": "",
         "endings": ["He adds them to the pan.", "He reads a book.", "He naps.", "He runs."],
         "source_id": "w", "split": "val", "split_type": "indomain", "label": "0"},
    ],
    "piqa": [
        {"goal": "How do I boil water?", "sol1": "Put it in a pot on the stove and heat it.", "sol2": "Put it in the freezer.", "label": 0},
        {"goal": "To print a line in Python,", "sol1": "call input().", "sol2": "call print().", "label": 1},
        {"goal": "Keep bread fresh", "sol1": "Store it in a closed bag.", "sol2": "Leave it in the rain.", "label": 0},
        {"goal": "Clean a glass window", "sol1": "Use soap and water.", "sol2": "Use mud.", "label": 0},
    ],
    "winogrande": [
        {"sentence": "The trophy does not fit into the suitcase because the _ is too large.", "option1": "trophy", "option2": "suitcase", "answer": "1"},
        {"sentence": "Sarah lent Maria money because _ was poor.", "option1": "Sarah", "option2": "Maria", "answer": "2"},
        {"sentence": "The function returned None since _ had no return statement.", "option1": "the loop", "option2": "the function", "answer": "2"},
        {"sentence": "_ is a good cook, so Ana asked him to help.", "option1": "Ben", "option2": "Ana", "answer": "1"},
    ],
    "boolq": [
        {"question": "is water wet", "passage": "Water is a liquid that makes things wet.", "idx": 0, "label": 1},
        {"question": "does python use braces for blocks",
         "passage": "Python is a programming language. " * 14 + "Blocks are marked by indentation, not braces, in Python code.",
         "idx": 1, "label": 0},
        {"question": "is the moon made of cheese", "passage": "The moon is made of rock and dust.", "idx": 2, "label": 0},
    ],
    # The generic layout; a context ending in spaces (moved to the continuation) and an empty context (prefix token).
    "custom": [
        {"context": "def square(x):\n    return ", "choices": ["x**2", "x + 2", "None"], "gold": 0},
        {"context": "Answer:  ", "choices": ["yes", "no"], "gold": 1},
        {"context": "", "choices": ["print(1)", "import os", "Привет"], "gold": 2},
        {"context": "The capital of France is", "choices": ["Paris", "Rome", "Berlin", "Madrid"], "gold": 0},
    ],
}

# lm-eval task definitions: (the installed yaml to include, the split the fixture's rows go in, extra keys).
CUSTOM_TASK = {"output_type": "multiple_choice", "doc_to_text": "context", "doc_to_choice": "choices", "doc_to_target": "gold",
               "metric_list": [{"metric": "acc"}, {"metric": "acc_norm"}]}
DEFINITIONS = {"arc": "arc/arc_easy.yaml", "hellaswag": "hellaswag/hellaswag.yaml", "piqa": "piqa/piqa.yaml",
               "winogrande": "winogrande/default.yaml", "boolq": "super_glue/boolq/default.yaml", "custom": None}

MODELS = {  # name: tokenizer fixture, tokenizer_config special tokens
    "llama3_bos": ("bytelevel_llama3", {"bos_token": "<|begin_of_text|>", "eos_token": "<|endoftext|>"}),
    "gpt2_eos": ("bytelevel_gpt2", {"bos_token": None, "eos_token": "<|endoftext|>"}),
    "sentencepiece": ("metaspace_bpe", {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}),
}


def make_model(name, tokenizer_kind, specials, seed):
    out = os.path.join(OUT, "models", name)
    os.makedirs(out, exist_ok=True)
    shutil.copy(os.path.join(ROOT, "tokenizers", tokenizer_kind, "tokenizer.json"), out)
    vocab = json.load(open(os.path.join(out, "tokenizer.json")))
    size = max(max(vocab["model"]["vocab"].values()), max([t["id"] for t in vocab["added_tokens"]] or [0])) + 1
    json.dump({"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 128, "clean_up_tokenization_spaces": False,
               "add_bos_token": None, **specials}, open(os.path.join(out, "tokenizer_config.json"), "w"), indent=1)
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=size, hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=128, tie_word_embeddings=True, rms_norm_eps=1e-5,
                         rope_theta=10000.0, initializer_range=0.3, bos_token_id=None, eos_token_id=None)
    model = LlamaForCausalLM(config).eval()
    config.save_pretrained(out)
    save_file({k: v.contiguous() for k, v in model.state_dict().items() if k != "lm_head.weight"},
              os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
    return out


def task_yaml(directory, task, data_file):
    name = f"fixture_{task}"
    config = {"task": name, "tag": [], "dataset_path": "json", "dataset_name": None,
              "dataset_kwargs": {"data_files": {"test": data_file}},
              "training_split": None, "validation_split": None, "test_split": "test",
              # acc_norm as well where the task itself reports only acc (WinoGrande, BoolQ), to check it everywhere.
              "metric_list": CUSTOM_TASK["metric_list"]}
    if DEFINITIONS[task]:
        import lm_eval
        config["include"] = os.path.join(os.path.dirname(lm_eval.__file__), "tasks", DEFINITIONS[task])
    else:
        config.update(CUSTOM_TASK)
    import yaml
    with open(os.path.join(directory, name + ".yaml"), "w") as f:
        yaml.safe_dump(config, f)
    return name


def main():
    os.environ.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    import lm_eval
    from lm_eval.tasks import TaskManager
    os.makedirs(os.path.join(OUT, "tasks"), exist_ok=True)
    yaml_dir = tempfile.mkdtemp()
    names = {}
    for task, rows in TASKS.items():
        path = os.path.join(OUT, "tasks", task + ".jsonl")
        with open(path, "w", encoding="utf-8") as f:
            for r in rows: f.write(json.dumps(r, ensure_ascii=False) + "\n")
        names[task_yaml(yaml_dir, task, path)] = task
    reference = {"lm_eval_version": lm_eval.__version__, "models": {}}
    for seed, (model_name, (kind, specials)) in enumerate(MODELS.items()):
        directory = make_model(model_name, kind, specials, seed)
        results = lm_eval.simple_evaluate(model="hf", model_args=f"pretrained={directory},dtype=float32", tasks=list(names),
                                          task_manager=TaskManager(include_path=yaml_dir), batch_size=1, device="cpu",
                                          log_samples=True, num_fewshot=0)
        per_task = {}
        for name, task in names.items():
            agg = results["results"][name]
            questions = []
            for s in sorted(results["samples"][name], key=lambda s: s["doc_id"]):
                questions.append({"requests": [{"context": a[0], "continuation": a[1]} for a in s["arguments"]],
                                  "loglikelihoods": [float(r[0][0]) for r in s["resps"]],
                                  "greedy": [bool(r[0][1]) for r in s["resps"]],
                                  "acc": s["acc"], "acc_norm": s.get("acc_norm")})
            per_task[task] = {"acc": agg["acc,none"], "acc_stderr": agg.get("acc_stderr,none"),
                              "acc_norm": agg.get("acc_norm,none"), "acc_norm_stderr": agg.get("acc_norm_stderr,none"),
                              "questions": questions}
            print(f"{model_name} {task}: acc {agg['acc,none']:.4f}")
        reference["models"][model_name] = per_task
    with open(os.path.join(OUT, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(reference, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    sys.exit(main())
