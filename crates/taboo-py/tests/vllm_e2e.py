"""vLLM end to end on CPU (run by test_vllm.py in its own process: vLLM spawns workers, so
this needs ``if __name__ == "__main__"``). Prints one JSON object with the outputs."""

from __future__ import annotations

import json
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
os.environ.setdefault("VLLM_USE_V2_MODEL_RUNNER", "0")


def main(model_dir: str) -> None:
    from vllm import LLM, SamplingParams

    from taboo.vllm import BanLogitsProcessor

    llm = LLM(
        model=model_dir,
        dtype="bfloat16",
        max_model_len=1024,
        enforce_eager=True,
        max_num_seqs=8,
        logits_processors=[BanLogitsProcessor],
    )
    tok = llm.get_tokenizer()

    def chat(p):
        return tok.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)

    banned_prompt = chat('What animal says "meow"? Answer in one sentence.')
    free_prompt = chat("Write the word CAT in capitals.")
    plain = SamplingParams(temperature=0.0, max_tokens=24)
    banned = SamplingParams(
        temperature=0.0, max_tokens=24, extra_args={"banned_words": ["cat", "[forms] kitten"]}
    )
    caps = SamplingParams(temperature=0.0, max_tokens=24, extra_args={"banned_words": ["cat"]})
    free_alone = llm.generate([free_prompt], plain)[0].outputs[0].text
    unconstrained = llm.generate([banned_prompt], plain)[0].outputs[0].text
    both = llm.generate([banned_prompt, free_prompt, free_prompt], [banned, plain, caps])
    rejected = None
    try:
        llm.generate([free_prompt], SamplingParams(max_tokens=4, extra_args={"banned_words": ["[regex] ("]}))
    except Exception as e:  # noqa: BLE001 - vLLM wraps the ValueError in VLLMValidationError
        rejected = f"{type(e).__name__}: {e}"
    print(
        "RESULT "
        + json.dumps(
            {
                "unconstrained": unconstrained,
                "banned": both[0].outputs[0].text,
                "free_in_batch": both[1].outputs[0].text,
                "free_alone": free_alone,
                "caps_banned": both[2].outputs[0].text,
                "rejected": rejected,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main(sys.argv[1])
