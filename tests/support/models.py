"""Tiny random-weight Llama models with byte-level BPE tokenizers trained here: offline and fast."""

from __future__ import annotations

from pathlib import Path

from .corpora import TRAIN_TEXT, sample_docs


def make_tokenizer(path: Path, add_bos: bool, vocab_size: int = 400):
    """A byte-level BPE tokenizer trained here; with ``add_bos`` it prepends <s> by default."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=["<|endoftext|>", "<s>", "</s>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(TRAIN_TEXT * 20 + sample_docs(0, 50, 40), trainer=trainer)
    if add_bos:
        tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token=None, pad_token="<|endoftext|>"
    )
    fast.save_pretrained(path)
    return fast


def make_tiny_model(path, add_bos: bool = False, max_positions: int = 256, seed: int = 0, vocab_size: int = 400) -> str:
    """Save a tiny random Llama-style causal LM and tokenizer under ``path``; return the folder."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tok = make_tokenizer(path, add_bos, vocab_size)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=max_positions,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=0,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():  # larger weights than the init so that predictions really depend on context
        for p in model.parameters():
            p.normal_(0, 0.3) if p.dim() > 1 else None
    model.save_pretrained(path)
    return str(path)
