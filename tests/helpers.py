"""Helpers shared by several test modules."""

import math

from torch.optim.optimizer import register_optimizer_step_pre_hook


class GradNorms:
    """The global gradient norm of a model's parameters as backward leaves it (raw) and as the optimizer sees it."""

    def __init__(self, model):
        self.params, self.raw, self.seen, self._sq = list(model.parameters()), [], [], 0.0
        self.handles = [p.register_post_accumulate_grad_hook(self._accumulated) for p in self.params]
        self.handles.append(register_optimizer_step_pre_hook(self._before_step))

    def _accumulated(self, p):
        self._sq += float(p.grad.double().pow(2).sum())

    def _before_step(self, opt, args, kwargs):
        self.raw.append(math.sqrt(self._sq))
        self._sq = 0.0
        self.seen.append(math.sqrt(sum(float(p.grad.double().pow(2).sum()) for p in self.params if p.grad is not None)))

    def remove(self):
        for h in self.handles:
            h.remove()


def connectivity_torch(model, vocab, text: str, t: int):
    """Norms of d log p(text[t] | text[:t]) / d embedding of text[s], s < t, by torch autograd in float64."""
    import copy

    import torch

    model = copy.deepcopy(model).double().eval()
    ids = vocab.encode(text[:t + 1])
    x = model.embed(ids[:t]).detach().requires_grad_()
    out, _ = model.rnn(x[None])
    torch.log_softmax(model.head(out[0, -1]), -1)[ids[t]].backward()
    return x.grad.norm(dim=1).numpy()
