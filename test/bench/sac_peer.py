"""The PyTorch peer of the learner benchmark (test/bench/learner.ts).

The same SAC update as src/learner/sac.ts, written the way one would in PyTorch: LayerNorm critics
(Dense -> LayerNorm -> ReLU per hidden layer), a tanh-Gaussian actor with a tanh-squashed log-std,
Adam for critics, actor and temperature, Polyak-averaged targets and a target that takes the min over
a random subset of the target critics. Batches are drawn half from an "online" and half from a
"demo" buffer, both filled with random transitions, inside the timed update (as the project does).

Run it with the environment docs/SETUP.md prescribes (OpenMP OpenBLAS, 2 threads). It answers
JSON lines: first a hello with torch's version and the BLAS kernels in use, then one line per request
read from stdin ({"cmd": "measure", "ensemble": E, "mode": "critic" | "full", "seconds": s}).
`--standalone` measures every case once and prints one JSON object instead.
"""

import ctypes
import json
import math
import sys
import time

import torch
from torch import nn

OBS_DIM = 24
ACTION_DIM = 4
BATCH = 256
HIDDEN = (256, 256)
MIN_SUBSET = 2
GAMMA = 0.99
TAU = 0.005
LR = 3e-4
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0
ONLINE_SIZE = 100_000
DEMO_SIZE = 20_000
HALF_LOG_2PI = 0.5 * math.log(2 * math.pi)


def blas_info():
    """The BLAS library this process actually loaded, and OpenBLAS's kernel name if it is one."""
    with open("/proc/self/maps", encoding="utf-8") as maps:
        paths = sorted({line.split()[-1] for line in maps if "blas" in line and "/" in line})
    for path in paths:
        try:
            fn = ctypes.CDLL(path).openblas_get_corename
        except (OSError, AttributeError):
            continue
        fn.restype = ctypes.c_char_p
        return {"blas": path, "corename": fn().decode()}
    return {"blas": ", ".join(paths) or "none found", "corename": "not OpenBLAS"}


def critic_net(in_dim):
    layers = []
    for h in HIDDEN:
        layers += [nn.Linear(in_dim, h), nn.LayerNorm(h, eps=1e-6), nn.ReLU()]
        in_dim = h
    layers.append(nn.Linear(in_dim, 1))
    return nn.Sequential(*layers)


class Actor(nn.Module):
    def __init__(self):
        super().__init__()
        layers, dim = [], OBS_DIM
        for h in HIDDEN:
            layers += [nn.Linear(dim, h), nn.ReLU()]
            dim = h
        self.trunk = nn.Sequential(*layers)
        self.mean = nn.Linear(dim, ACTION_DIM)
        self.log_std = nn.Linear(dim, ACTION_DIM)

    def sample(self, obs):
        h = self.trunk(obs)
        mean = self.mean(h)
        span = 0.5 * (LOG_STD_MAX - LOG_STD_MIN)
        log_std = (torch.tanh(self.log_std(h)) + 1) * span + LOG_STD_MIN
        noise = torch.randn_like(mean)
        u = mean + log_std.exp() * noise
        gaussian = -0.5 * noise.square() - log_std - HALF_LOG_2PI
        squash = 2 * (math.log(2) - u - nn.functional.softplus(-2 * u))
        return torch.tanh(u), (gaussian - squash).sum(1)


class Sac:
    def __init__(self, ensemble, seed=0):
        torch.manual_seed(seed)
        self.ensemble = ensemble
        self.actor = Actor()
        self.critics = nn.ModuleList(critic_net(OBS_DIM + ACTION_DIM) for _ in range(ensemble))
        self.targets = nn.ModuleList(critic_net(OBS_DIM + ACTION_DIM) for _ in range(ensemble))
        self.targets.load_state_dict(self.critics.state_dict())
        self.targets.requires_grad_(False)
        self.log_alpha = torch.zeros((), requires_grad=True)
        self.critic_opt = torch.optim.Adam(self.critics.parameters(), lr=LR)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=LR)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr=LR)
        self.target_entropy = -ACTION_DIM / 2
        self.critic_params = list(self.critics.parameters())
        self.target_params = list(self.targets.parameters())
        self.actor_params = list(self.actor.parameters())
        self.buffers = [self._buffer(ONLINE_SIZE), self._buffer(DEMO_SIZE)]

    @staticmethod
    def _buffer(n):
        return {
            "obs": torch.rand(n, OBS_DIM) * 2 - 1,
            "action": torch.rand(n, ACTION_DIM) * 2 - 1,
            "reward": torch.rand(n),
            "next_obs": torch.rand(n, OBS_DIM) * 2 - 1,
            "done": (torch.rand(n) < 0.01).float(),
        }

    def batch(self):
        half = BATCH // 2
        parts = []
        for buf, n in zip(self.buffers, (half, BATCH - half)):
            idx = torch.randint(buf["obs"].shape[0], (n,))
            parts.append({k: v[idx] for k, v in buf.items()})
        return {k: torch.cat([p[k] for p in parts]) for k in parts[0]}

    def critic_update(self):
        b = self.batch()
        with torch.no_grad():
            alpha = self.log_alpha.exp()
            next_action, next_log_prob = self.actor.sample(b["next_obs"])
            next_sa = torch.cat([b["next_obs"], next_action], 1)
            subset = torch.randperm(self.ensemble)[:MIN_SUBSET].tolist()
            next_q = torch.stack([self.targets[i](next_sa).squeeze(1) for i in subset]).amin(0)
            next_q = next_q - alpha * next_log_prob
            y = b["reward"] + GAMMA * (1 - b["done"]) * next_q
        sa = torch.cat([b["obs"], b["action"]], 1)
        loss = sum(((q(sa).squeeze(1) - y) ** 2).mean() for q in self.critics)
        self.critic_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.critic_opt.step()
        with torch.no_grad():
            torch._foreach_mul_(self.target_params, 1 - TAU)
            torch._foreach_add_(self.target_params, self.critic_params, alpha=TAU)
        return b

    def actor_update(self, b):
        alpha = self.log_alpha.exp().detach()
        action, log_prob = self.actor.sample(b["obs"])
        sa = torch.cat([b["obs"], action], 1)
        q = torch.stack([c(sa).squeeze(1) for c in self.critics]).mean(0)
        loss = (alpha * log_prob - q).mean()
        self.actor_opt.zero_grad(set_to_none=True)
        loss.backward(inputs=self.actor_params)  # no gradients for the critics' weights
        self.actor_opt.step()
        alpha_loss = -(self.log_alpha * (log_prob.detach() + self.target_entropy)).mean()
        self.alpha_opt.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_opt.step()

    def update(self, full):
        b = self.critic_update()
        if full:
            self.actor_update(b)


def measure(sac, full, seconds, min_updates=3):
    """Updates per second over at least `seconds` (and `min_updates` updates)."""
    count, start = 0, time.perf_counter()
    while True:
        sac.update(full)
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and count >= min_updates:
            return count / elapsed


def main():
    learners = {}

    def learner(ensemble):
        if ensemble not in learners:
            learners[ensemble] = Sac(ensemble)
            for _ in range(10):  # warm-up: allocator, OpenMP pool, Adam state
                learners[ensemble].update(True)
        return learners[ensemble]

    torch.set_grad_enabled(True)
    hello = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": sys.version.split()[0],
        **blas_info(),
    }
    if "--standalone" in sys.argv:
        hello["results"] = {
            f"{mode} E={e}": measure(learner(e), mode == "full", 2.0)
            for e in (2, 10)
            for mode in ("critic", "full")
        }
        print(json.dumps(hello), flush=True)
        return
    print(json.dumps(hello), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        if request["cmd"] == "measure":
            sac = learner(int(request["ensemble"]))
            rate = measure(sac, request["mode"] == "full", float(request["seconds"]))
            print(json.dumps({"rate": rate}), flush=True)
        elif request["cmd"] == "quit":
            return
        else:
            print(json.dumps({"error": f"unknown command {request['cmd']}"}), flush=True)


if __name__ == "__main__":
    main()
