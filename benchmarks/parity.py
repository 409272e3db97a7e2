"""Largest relative differences between the plugin and the plain-PyTorch references of tests/reference.py,
on tiny random models (one tokenizer without BOS, one with), across block/stride settings and window BOS.

    python benchmarks/parity.py
"""
import json
import logging
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
logging.disable(logging.WARNING)
from helpers import make_tiny_model, write_corpus, default_corpora
from api import evaluate, load_lm, per_doc
from reference import document_loglikelihood, paper_loglikelihoods
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
root=tempfile.mkdtemp(prefix='parity-')
models={'plain': make_tiny_model(root+'/plain', False), 'bos': make_tiny_model(root+'/bos', True, seed=1)}
corpus=write_corpus(root+'/corpus', default_corpora())
docs={n:[json.loads(l)['content'] for l in open(f'{corpus}/{n}.jsonl') if json.loads(l)['content']] for n in ('cc','python','arxiv_math')}
rel=lambda a,b: abs(a-b)/max(abs(a),abs(b))
worst_doc=0; worst_paper=0; n_doc=0
for kind,path in models.items():
    lm=load_lm(path); model=AutoModelForCausalLM.from_pretrained(path,dtype=torch.float32).eval(); tok=AutoTokenizer.from_pretrained(path)
    for block,stride in [(32,8),(24,24),(16,1),(20,7),(256,64)]:
        for wb in (False,True):
            res=evaluate(lm,['compression_cc','compression_python'],{'data_dir':corpus,'block_size':block,'stride':stride,'window_bos':wb})
            for task,name in (('compression_cc','cc'),('compression_python','python')):
                for r,t in zip(per_doc(res,task),docs[name]):
                    ref=document_loglikelihood(model,tok(t,add_special_tokens=False)['input_ids'],tok.bos_token_id,block,stride,bos=tok.bos_token_id if wb else None)
                    worst_doc=max(worst_doc,rel(r['loglikelihood'],ref)); n_doc+=1
    for block,stride in [(32,8),(24,24),(20,7)]:
        res=evaluate(lm,['compression_arxiv_math'],{'data_dir':corpus,'block_size':block,'stride':stride,'protocol':'paper'})
        tot,_=paper_loglikelihoods(model,[tok(d)['input_ids'] for d in docs['arxiv_math']],block,stride)
        worst_paper=max(worst_paper,rel(sum(r['loglikelihood'] for r in per_doc(res,'compression_arxiv_math')),tot))
print(f"document protocol: {n_doc} document comparisons, max relative difference {worst_doc:.2e}")
print(f"paper protocol: max relative difference of corpus totals {worst_paper:.2e}")
