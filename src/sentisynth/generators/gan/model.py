"""The embedding-space conditional GAN, read top to bottom: networks, losses, one training phase.

The generator maps (noise, one-hot label) to a sentence embedding and emits the one-hot label with
it; the discriminator judges (embedding, one-hot label) pairs. Everything works in *standardised*
embedding space (per-dimension mean 0, std 1, statistics from the first data the GAN saw), because
sentence-embedding coordinates are tiny (MiniLM: std ~0.05) and Adam's default step sizes assume
unit-scale inputs.

The modifications against mode collapse and over-fitting on a few dozen real points are switches on
:class:`TrainConfig`, so each can be ablated against the plain conditional GAN:

1. ``consistency``: a logistic-regression classifier trained on the real embeddings only is frozen
   and the generator pays a cross-entropy penalty when that classifier's prediction on a generated
   embedding does not match the one-hot label the generator emitted with it.
2. pretraining on a large corpus and then fine-tuning (handled by the caller: it runs
   :func:`train_phase` twice, the second time starting from the first phase's weights).
3. ``instance_noise``: fresh Gaussian noise is added to every real training example each epoch, so
   the discriminator never sees the same few points twice and cannot simply memorise them.
4. ``real_target``: one-sided label smoothing; real pairs are trained towards 0.9, fakes towards 0.
5. ``early_stopping``: every ``eval_every`` epochs, a classifier trained on generated samples only
   is scored (log-loss) on held-out real examples; training stops after ``patience`` checks without
   improvement and the best epoch count is returned, so the caller can refit on all the data.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


@dataclass
class TrainConfig:
    """One training phase. Defaults are fixed a priori (common DCGAN-style settings), not tuned."""

    epochs: int = 100
    batch_size: int = 64
    lr: float = 2e-4
    consistency: bool = False
    consistency_weight: float = 1.0
    instance_noise: float = 0.0  # std, in standardised units, of the fresh noise on real examples
    real_target: float = 1.0  # 0.9 = one-sided label smoothing
    early_stopping: bool = False
    eval_every: int = 10
    patience: int = 5
    min_steps_per_epoch: int = 1
    log: list = field(default_factory=list)


class Generator(nn.Module):
    """(noise, one-hot label) -> (embedding, the same one-hot label)."""

    def __init__(self, noise_dim: int, n_labels: int, emb_dim: int, hidden: int):
        super().__init__()
        self.noise_dim, self.n_labels = noise_dim, n_labels
        self.net = nn.Sequential(
            nn.Linear(noise_dim + n_labels, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2),
            nn.Linear(hidden, emb_dim),  # linear output: standardised coordinates are unbounded
        )

    def forward(self, z: torch.Tensor, onehot: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.net(torch.cat([z, onehot], dim=1)), onehot


class Discriminator(nn.Module):
    """(embedding, one-hot label) -> logit of "a real pair". Dropout slows memorising the few real points."""

    def __init__(self, n_labels: int, emb_dim: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(emb_dim + n_labels, hidden), nn.LeakyReLU(0.2), nn.Dropout(0.3),
            nn.Linear(hidden, hidden), nn.LeakyReLU(0.2), nn.Dropout(0.3),
            nn.Linear(hidden, 1),
        )

    def forward(self, emb: torch.Tensor, onehot: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([emb, onehot], dim=1)).squeeze(1)


def linear_classifier(X: np.ndarray, y: np.ndarray, n_labels: int, random_state: int) -> nn.Linear:
    """A frozen logistic regression (scikit-learn, C = 1) as a torch layer giving one logit per label.

    Used by the consistency loss, so its gradient reaches the generated embedding.
    """
    from sklearn.linear_model import LogisticRegression

    present = np.unique(y)
    if len(present) < 2:
        raise ValueError(f"the consistency classifier needs at least two labels in the real data; got {present.tolist()}.")
    lr = LogisticRegression(C=1.0, max_iter=2000, random_state=random_state).fit(X, y)
    W = np.zeros((n_labels, X.shape[1]), dtype=np.float32)
    b = np.full(n_labels, -1e4, dtype=np.float32)  # a label absent from training is never predicted
    if len(lr.classes_) == 2:  # binary: sklearn keeps one row, the logit of classes_[1] against classes_[0]
        W[lr.classes_[1]], b[lr.classes_[1]] = lr.coef_[0], lr.intercept_[0]
        b[lr.classes_[0]] = 0.0
    else:
        W[lr.classes_], b[lr.classes_] = lr.coef_, lr.intercept_
    layer = nn.Linear(X.shape[1], n_labels)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(W))
        layer.bias.copy_(torch.from_numpy(b))
    layer.requires_grad_(False)
    return layer


def sample(G: Generator, labels: np.ndarray, gen: torch.Generator) -> np.ndarray:
    """Embeddings (standardised) for the given label ids, in eval mode, no gradients."""
    G.eval()
    with torch.no_grad():
        z = torch.randn(len(labels), G.noise_dim, generator=gen)
        onehot = F.one_hot(torch.as_tensor(labels, dtype=torch.long), G.n_labels).float()
        emb, _ = G(z, onehot)
    G.train()
    return emb.numpy()


def tstr_logloss(G: Generator, X_held: np.ndarray, y_held: np.ndarray, gen: torch.Generator, per_label: int = 100) -> float:
    """Train-on-synthetic, test-on-real: log-loss on held-out real data of a classifier fitted on generated data.

    Lower is better: it rewards samples that are both on the real class manifolds (fidelity) and spread
    enough to place the decision boundary well (diversity), which is what augmentation needs.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    labels = np.repeat(np.arange(G.n_labels), per_label)
    X_syn = sample(G, labels, gen)
    clf = LogisticRegression(C=1.0, max_iter=1000).fit(X_syn, labels)
    return float(log_loss(y_held, clf.predict_proba(X_held), labels=list(range(G.n_labels))))


def train_phase(
    G: Generator,
    D: Discriminator,
    X: np.ndarray,
    y: np.ndarray,
    cfg: TrainConfig,
    seed: int,
    held_out: tuple[np.ndarray, np.ndarray] | None = None,
) -> int:
    """Train ``G`` and ``D`` in place on standardised real embeddings ``X`` with label ids ``y``.

    Returns the number of epochs whose weights ``G`` ends with (with early stopping: the best check;
    otherwise ``cfg.epochs``). Seeded: the same inputs and seed give the same weights.
    """
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    n_labels = G.n_labels
    Xt, yt = torch.from_numpy(np.asarray(X, dtype=np.float32)), torch.as_tensor(y, dtype=torch.long)
    onehot_real = F.one_hot(yt, n_labels).float()
    clf = linear_classifier(X, y, n_labels, seed) if cfg.consistency else None
    # foreach: one fused update over all parameters; per-tensor Python overhead dominates nets this small.
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr, betas=(0.5, 0.999), foreach=True)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr, betas=(0.5, 0.999), foreach=True)
    label_freq = torch.bincount(yt, minlength=n_labels).float()
    steps = max(cfg.min_steps_per_epoch, math.ceil(len(X) / cfg.batch_size))

    best = (math.inf, 0, copy.deepcopy(G.state_dict()))
    checks_without_gain = 0
    for epoch in range(1, cfg.epochs + 1):
        # 3. fresh noise on every real example, drawn anew each epoch
        X_epoch = Xt + cfg.instance_noise * torch.randn(Xt.shape, generator=gen) if cfg.instance_noise else Xt
        order = torch.randperm(len(X), generator=gen)
        d_losses, g_losses = [], []
        for step in range(steps):
            idx = order[(step * cfg.batch_size) % len(X):][: cfg.batch_size]
            real, real_oh = X_epoch[idx], onehot_real[idx]
            b = len(idx)
            # Fake labels follow the real label frequencies, so the discriminator cannot tell by label.
            fake_y = torch.multinomial(label_freq, b, replacement=True, generator=gen)
            fake_oh = F.one_hot(fake_y, n_labels).float()
            z = torch.randn(b, G.noise_dim, generator=gen)
            fake, fake_label_out = G(z, fake_oh)

            # Discriminator: real pairs towards cfg.real_target (4. one-sided smoothing: 0.9), fakes towards 0.
            opt_d.zero_grad()
            loss_d = F.binary_cross_entropy_with_logits(D(real, real_oh), torch.full((b,), cfg.real_target)) + \
                F.binary_cross_entropy_with_logits(D(fake.detach(), fake_label_out.detach()), torch.zeros(b))
            loss_d.backward()
            opt_d.step()

            # Generator: fool the discriminator (non-saturating loss) ...
            opt_g.zero_grad()
            loss_g = F.binary_cross_entropy_with_logits(D(fake, fake_label_out), torch.ones(b))
            # ... and 1. make the real-data classifier agree with the label emitted with the embedding.
            if clf is not None:
                loss_g = loss_g + cfg.consistency_weight * F.cross_entropy(clf(fake), fake_label_out.argmax(1))
            loss_g.backward()
            opt_g.step()
            d_losses.append(loss_d.item())
            g_losses.append(loss_g.item())

        entry = {"epoch": epoch, "loss_d": float(np.mean(d_losses)), "loss_g": float(np.mean(g_losses))}
        if cfg.early_stopping and held_out is not None and epoch % cfg.eval_every == 0:
            score = tstr_logloss(G, held_out[0], held_out[1], gen)
            entry["heldout_logloss"] = score
            if score < best[0] - 1e-4:
                best = (score, epoch, copy.deepcopy(G.state_dict()))
                checks_without_gain = 0
            else:
                checks_without_gain += 1
        if epoch % cfg.eval_every == 0 or epoch == cfg.epochs:
            cfg.log.append(entry)
        if cfg.early_stopping and checks_without_gain >= cfg.patience:
            break
    if cfg.early_stopping and held_out is not None and best[1] > 0:
        G.load_state_dict(best[2])
        return best[1]
    return epoch
