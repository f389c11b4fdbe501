"""One training step of a tiny MuLan under `accelerate launch`: writes the loss and the gradients of every parameter
(as seen by rank 0 after DistributedDataParallel's averaging) to the file given as argv[1]; EXPECTED_PROCESSES in
the environment is the number of processes the launcher must have started. The whole batch of 16
fixed pairs is split across processes in rank order."""

import os
import sys

import torch
from accelerate import Accelerator
from transformers import ASTConfig, BertConfig

from mulan_hf import MuLanConfig, MuLanModel
from mulan_hf.training import contrastive_loss, text_ids

accelerator = Accelerator(cpu=True)
if accelerator.num_processes != int(os.environ["EXPECTED_PROCESSES"]):
    raise SystemExit(f"expected {os.environ['EXPECTED_PROCESSES']} processes, got {accelerator.num_processes}")
torch.manual_seed(0)
audio = ASTConfig(
    hidden_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=64,
    num_mel_bins=16,
    max_length=32,
    patch_size=16,
    frequency_stride=16,
    time_stride=16,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)
text = BertConfig(
    vocab_size=50,
    hidden_size=32,
    num_hidden_layers=1,
    num_attention_heads=2,
    intermediate_size=64,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)
model = MuLanModel(MuLanConfig(audio_config=audio, text_config=text, apply_spec_augment=False))
generator = torch.Generator().manual_seed(1)
features = torch.randn(16, 1, 32, 16, generator=generator)
input_ids = torch.randint(1, 50, (16, 6), generator=generator)
input_ids[5] = input_ids[2]  # duplicate texts across the two halves and within one
input_ids[12] = input_ids[2]

model = accelerator.prepare(model)
model.train()
share = 16 // accelerator.num_processes
rows = slice(accelerator.process_index * share, (accelerator.process_index + 1) * share)
unwrapped = accelerator.unwrap_model(model)
output = model(input_ids=input_ids[rows], input_features=features[rows])
loss = contrastive_loss(
    output.audio_embeds, output.text_embeds, unwrapped.logit_scale, text_group=text_ids(input_ids[rows])
)
accelerator.backward(loss)
if accelerator.is_main_process:
    grads = {name: p.grad.clone() for name, p in unwrapped.named_parameters() if p.grad is not None}
    torch.save({"loss": loss.detach(), "grads": grads, "world_size": accelerator.num_processes}, sys.argv[1])
# Wait for every rank, then tear the process group down before the interpreter exits: a gloo group left alive at
# exit sometimes aborted rank 1 ("terminate called without an active exception"), failing the test at random.
accelerator.wait_for_everyone()
accelerator.end_training()
# Even so, about one run in six still aborted in gloo's C++ destructors during interpreter teardown, after all work
# was done and saved; leave without running them (the results are on disk, every rank has synchronised).
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
