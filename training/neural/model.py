"""libnic neural image codec: mean-scale hyperprior with variable-rate gain units.

Everything here is written from the papers' descriptions (Balle et al. 2016/2018, Minnen et al.
2018, Cui et al. 2021 "asymmetric gained" variable rate) -- no third-party codec library.

Layers used (all available in the Swift engine): conv k3/k5 stride 1/2, transposed conv k5 s2
(padding 2, output_padding 1), GDN / IGDN, LeakyReLU(0.01), per-channel multiply (gain units).

Tensor layout of the model (state_dict keys of `inference_state_dict`):
  g_a.{0,2,4,6}.{weight,bias}   Conv2d k5 s2 p2:      3->N, N->N, N->N, N->M
  g_a.{1,3,5}.{beta,gamma}      GDN(N)
  g_s.{0,2,4,6}.{weight,bias}   ConvTranspose2d k5 s2 p2 op1 (weight layout in,out,kH,kW): M->N, N->N, N->N, N->3
  g_s.{1,3,5}.{beta,gamma}      IGDN(N)
  h_a.{0,2,4}.{weight,bias}     Conv2d k3 s1 p1 M->N, LReLU, Conv2d k5 s2 p2 N->N, LReLU, Conv2d k5 s2 p2 N->N
  h_s.{0,2,4}.{weight,bias}     ConvTranspose2d k5 s2 p2 op1 N->M, LReLU, ConvTranspose2d k5 s2 p2 op1 M->3M/2,
                                LReLU, Conv2d k3 s1 p1 3M/2->2M ; channels [0,M) = means, [M,2M) = scales
  gain.y, gain.y_inv            [L, M] positive gains (encoder side: y*gain.y[l]; decoder: y_hat*gain.y_inv[l])
  gain.z, gain.z_inv            [L, N] the same for the hyper-latent z
  (entropy_bottleneck.* are training-only: the exported record carries CDF tables instead)
With context="checkerboard" (research option; the Swift engine does not decode it yet):
  context.{weight,bias}         Conv2d k5 s1 p2 M->2M over the quantised anchors, masked to the 12 taps of
                                anchor positions ((dy + dx) odd)
  entropy_parameters.{0,2,4}.*  Conv2d k1: 4M->2M, LReLU, 2M->2M, LReLU, 2M->2M (corrections of the non-anchors'
                                means and log-scales; the last layer starts at zero)
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# Rate-distortion ladder: loss = bpp + lambda * 255^2 * MSE(x in [0,1]), one lambda per gain level.
LAMBDAS = [0.0018, 0.0035, 0.0067, 0.0130, 0.0250, 0.0483, 0.0932, 0.1800]
LADDER_RATIO = 1.93         # lambda factor between neighbouring levels


def ladder(below=0, lambdas=LAMBDAS):
    """The lambda ladder with `below` extra levels under `lambdas` (same factor per level), for
    rates down to ~0.1 bpp."""
    return [lambdas[0] / LADDER_RATIO ** k for k in range(below, 0, -1)] + list(lambdas)
SCALE_BOUND = 0.11          # lower bound on the Gaussian scales
LIKELIHOOD_BOUND = 1e-9     # lower bound on every likelihood
LRELU_SLOPE = 0.01


# --------------------------------------------------------------------------------------------
# Bounds and quantisation helpers
# --------------------------------------------------------------------------------------------

class _LowerBound(torch.autograd.Function):
    """max(x, bound) whose gradient still flows where it would push x back above the bound."""

    @staticmethod
    def forward(ctx, x, bound):
        ctx.save_for_backward(x)
        ctx.bound = bound
        return torch.clamp_min(x, bound)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        keep = (x >= ctx.bound) | (g < 0)
        return g * keep.to(g.dtype), None


def lower_bound(x, bound):
    return _LowerBound.apply(x, float(bound))


def ste_round(x):
    """round() in the forward pass, identity gradient."""
    return x + (torch.round(x) - x).detach()


def quantize8_ste(x):
    """Clip to [0,1] and round to 8 bits as a real decoder output would be; identity gradient."""
    return x + (torch.round(x.clamp(0.0, 1.0) * 255.0) / 255.0 - x).detach()


def std_normal_cdf(x):
    return 0.5 * torch.erfc(x * (-1.0 / math.sqrt(2.0)))


# --------------------------------------------------------------------------------------------
# GDN / IGDN
# --------------------------------------------------------------------------------------------

class GDN(nn.Module):
    """y_i = x_i / sqrt(beta_i + sum_j gamma_ij x_j^2)   (inverse: multiply instead).

    beta and gamma are trained through the non-negative reparameterisation of Balle 2018
    (value = max(p, bound)^2 - pedestal); `beta()` / `gamma()` give the effective values that the
    Swift engine uses (exported as `<name>.beta`, `<name>.gamma`).
    """

    REPARAM_OFFSET = 2.0 ** -18

    def __init__(self, channels, inverse=False, beta_min=1e-6, gamma_init=0.1):
        super().__init__()
        self.inverse = inverse
        self.pedestal = self.REPARAM_OFFSET ** 2
        self.beta_bound = (beta_min + self.pedestal) ** 0.5
        self.gamma_bound = self.REPARAM_OFFSET
        self.beta_p = nn.Parameter(torch.sqrt(torch.ones(channels) + self.pedestal))
        self.gamma_p = nn.Parameter(torch.sqrt(gamma_init * torch.eye(channels) + self.pedestal))

    def beta(self):
        return lower_bound(self.beta_p, self.beta_bound) ** 2 - self.pedestal

    def gamma(self):
        return lower_bound(self.gamma_p, self.gamma_bound) ** 2 - self.pedestal

    def set_effective(self, beta, gamma):
        with torch.no_grad():
            self.beta_p.copy_(torch.sqrt(beta.clamp_min(0) + self.pedestal).clamp_min(self.beta_bound))
            self.gamma_p.copy_(torch.sqrt(gamma.clamp_min(0) + self.pedestal).clamp_min(self.gamma_bound))

    def forward(self, x):
        c = x.shape[1]
        norm = F.conv2d(x * x, self.gamma().view(c, c, 1, 1), self.beta())
        return x * torch.sqrt(norm) if self.inverse else x * torch.rsqrt(norm)


# --------------------------------------------------------------------------------------------
# Factorised prior for z (Balle 2018, appendix 6.1): per-channel monotone cumulative
# c(x) = sigmoid(f_K(...f_1(x))), f_k(x) = h_k(softplus(H_k) x + b_k), h_k(x) = x + tanh(a_k) tanh(x)
# --------------------------------------------------------------------------------------------

class FactorizedPrior(nn.Module):
    def __init__(self, channels, filters=(3, 3, 3, 3), init_scale=10.0):
        super().__init__()
        self.channels = channels
        dims = (1,) + tuple(filters) + (1,)
        s = init_scale ** (1.0 / (len(filters) + 1))
        self.matrices = nn.ParameterList()
        self.biases = nn.ParameterList()
        self.factors = nn.ParameterList()
        for k in range(len(filters) + 1):
            init = math.log(math.expm1(1.0 / s / dims[k + 1]))
            self.matrices.append(nn.Parameter(torch.full((channels, dims[k + 1], dims[k]), init)))
            self.biases.append(nn.Parameter(torch.rand(channels, dims[k + 1], 1) - 0.5))
            if k < len(filters):
                self.factors.append(nn.Parameter(torch.zeros(channels, dims[k + 1], 1)))

    def logits_cdf(self, v):
        """v: [C, 1, K] -> logits of the cumulative, [C, 1, K]."""
        for k in range(len(self.matrices)):
            v = torch.matmul(F.softplus(self.matrices[k]), v) + self.biases[k]
            if k < len(self.factors):
                v = v + torch.tanh(self.factors[k]) * torch.tanh(v)
        return v

    def likelihood(self, z):
        """z: [B, C, H, W] (noisy or rounded values) -> P(bin of width 1 centred on z)."""
        b, c, h, w = z.shape
        v = z.permute(1, 0, 2, 3).reshape(c, 1, -1)
        lo = self.logits_cdf(v - 0.5)
        hi = self.logits_cdf(v + 0.5)
        sign = -torch.sign(lo + hi).detach()   # evaluate in the tail where sigmoid is accurate
        p = torch.abs(torch.sigmoid(sign * hi) - torch.sigmoid(sign * lo))
        p = lower_bound(p, LIKELIHOOD_BOUND)
        return p.reshape(c, b, h, w).permute(1, 0, 2, 3)

    @torch.no_grad()
    def cdf_at(self, points):
        """points: 1-D float tensor -> [C, K] cumulative probabilities (float64 for table building)."""
        v = points.to(torch.float32).view(1, 1, -1).expand(self.channels, 1, -1)
        return torch.sigmoid(self.logits_cdf(v).double()).squeeze(1)


def gaussian_likelihood(y, means, scales):
    """P(bin of width 1 centred on y) under N(means, scales), scales lower-bounded."""
    s = lower_bound(scales, SCALE_BOUND)
    v = torch.abs(y - means)
    p = std_normal_cdf((0.5 - v) / s) - std_normal_cdf((-0.5 - v) / s)
    return lower_bound(p, LIKELIHOOD_BOUND)


# --------------------------------------------------------------------------------------------
# The codec
# --------------------------------------------------------------------------------------------

def conv(cin, cout, k, s):
    return nn.Conv2d(cin, cout, k, stride=s, padding=k // 2)


def deconv(cin, cout, k=5, s=2):
    return nn.ConvTranspose2d(cin, cout, k, stride=s, padding=k // 2, output_padding=s - 1)


class ResidualBlock(nn.Module):
    """x + conv3x3(LeakyReLU(conv3x3(x))), channels unchanged. The second convolution starts at
    zero, so a new block is the identity and adding it changes nothing until it is trained."""

    def __init__(self, c):
        super().__init__()
        self.conv1 = conv(c, c, 3, 1)
        self.act = nn.LeakyReLU(LRELU_SLOPE)
        self.conv2 = conv(c, c, 3, 1)
        with torch.no_grad():
            self.conv2.weight.zero_()
            self.conv2.bias.zero_()

    def forward(self, x):
        return x + self.conv2(self.act(self.conv1(x)))


class Synthesis(nn.Sequential):
    """g_s: four stride-2 transposed convolutions with inverse GDN between them (children 0-6),
    and with `blocks` > 0 that many residual blocks (child `blocks`) after the first inverse GDN,
    at 1/8 of the image's resolution, where a 3x3 convolution of N channels costs 9 N^2 / 64
    multiply-adds per image pixel (576 at N 64; the four transposed convolutions cost ~42k)."""

    BLOCKS_AT = 2          # the blocks run before child 2

    def __init__(self, M, N, blocks=0, skip=False):
        super().__init__(deconv(M, N), GDN(N, inverse=True), deconv(N, N), GDN(N, inverse=True),
                         deconv(N, N), GDN(N, inverse=True), deconv(N, 3))
        self.n_blocks = blocks
        if blocks:
            self.blocks = nn.Sequential(*(ResidualBlock(N) for _ in range(blocks)))
        self.skip = None
        if skip:
            self.add_skip()

    def add_skip(self):
        """A linear path from the latents straight to the picture, added to the output: a 32x32
        transposed convolution of stride 16 (each latent paints an overlapping 32x32 patch; 4 M
        multiply-adds per pixel and colour), starting at zero. Training experiment: no record
        holds it (inference_state_dict refuses it)."""
        M = self[0].in_channels
        self.skip = nn.ConvTranspose2d(M, 3, 32, stride=16, padding=8)
        nn.init.zeros_(self.skip.weight)
        nn.init.zeros_(self.skip.bias)

    def forward(self, x, add=None):
        """`add`: {child index: tensor} added to those children's outputs (a synthesis that also
        reads another input, training/layered/model.py's Condition)."""
        latents = x
        for i in range(7):
            if i == self.BLOCKS_AT and self.n_blocks:
                x = self.blocks(x)
            x = self[i](x)
            if add is not None and i in add:
                x = x + add[i]
        return x if self.skip is None else x + self.skip(latents)

    def block_macs_per_pixel(self):
        return self.n_blocks * 2 * 9 * self[0].out_channels ** 2 / 64


class MaskedConv2d(nn.Conv2d):
    """A convolution whose kernel taps outside `mask` ([kH, kW], 0/1) are zero (kept zero in the
    weights too, so that the stored weights are the effective ones)."""

    def __init__(self, cin, cout, mask):
        k = mask.shape[-1]
        super().__init__(cin, cout, k, stride=1, padding=k // 2)
        self.register_buffer("mask", mask.to(torch.float32).view(1, 1, k, k), persistent=False)
        with torch.no_grad():
            self.weight.mul_(self.mask)

    def forward(self, x):
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)


CONTEXTS = ("checkerboard",)


def checkerboard_anchors(h, w, device=None):
    """[1, 1, h, w] bool: the anchors of the checkerboard context, latents with (row + col) even.
    They are coded first, from the hyperprior alone; the others, (row + col) odd, second."""
    r = torch.arange(h, device=device).view(h, 1)
    c = torch.arange(w, device=device).view(1, w)
    return ((r + c) % 2 == 0).view(1, 1, h, w)


def checkerboard_mask(k=5):
    """[k, k] 0/1: the taps of a k x k kernel that fall on anchors when centred on a non-anchor
    ((dy + dx) odd; 12 of 25 for k = 5). The centre is never read."""
    d = torch.arange(k) - k // 2
    return ((d.view(k, 1) + d.view(1, k)) % 2 != 0).to(torch.float32)


def context_macs_per_pixel(M, k=5):
    """Multiply-accumulates per image pixel of the checkerboard branch (a latent covers 16 x 16
    pixels; context conv and entropy parameters run at the non-anchors, half of the latents)."""
    taps = int(checkerboard_mask(k).sum())
    per_latent = taps * M * 2 * M + 4 * M * 2 * M + 2 * (2 * M) * (2 * M)
    return per_latent / 2 / 256


class GainUnits(nn.Module):
    """Per-level positive gains stored as logs; continuous levels interpolate the logs linearly
    (= exponential interpolation of the gains, g = g_l^(1-t) * g_{l+1}^t)."""

    def __init__(self, levels, channels, init_log=None):
        super().__init__()
        init = torch.zeros(levels, channels) if init_log is None else init_log.view(levels, 1).repeat(1, channels)
        self.log = nn.Parameter(init.clone())

    def at(self, level):
        """level: float tensor [B] in [0, L-1] -> gains [B, C, 1, 1]."""
        L = self.log.shape[0]
        level = level.clamp(0, L - 1)
        lo = torch.clamp(torch.floor(level), max=L - 2).long()
        t = (level - lo.to(level.dtype)).unsqueeze(1)
        lg = (1 - t) * self.log[lo] + t * self.log[lo + 1]
        return torch.exp(lg)[:, :, None, None]


class MeanScaleHyperprior(nn.Module):
    """context=None: means and scales of y from the hyperprior alone. context="checkerboard" (He et
    al. 2021): two passes; the anchors (checkerboard_anchors) keep the hyperprior's means and
    scales, the other latents get corrections from `entropy_parameters` applied to the hyperprior's
    output and a masked 5x5 convolution (`context`) of the quantised anchors. The corrections start
    at zero, so a context model with a plain model's weights (add_context) computes what it does."""

    def __init__(self, N=64, M=96, lambdas=LAMBDAS, context=None, Na=None, synthesis_blocks=0, synthesis_skip=False):
        super().__init__()
        assert M % 2 == 0
        if context not in (None,) + CONTEXTS:
            raise ValueError(f"unknown context model {context!r} (known: {', '.join(CONTEXTS)})")
        levels = len(lambdas)
        Na = Na or N        # the analysis' hidden width: the encoder alone runs it, so it costs no decode time
        self.N, self.M, self.Na, self.levels, self.lambdas, self.context_kind = N, M, Na, levels, list(lambdas), context
        self.g_a = nn.Sequential(conv(3, Na, 5, 2), GDN(Na), conv(Na, Na, 5, 2), GDN(Na),
                                 conv(Na, Na, 5, 2), GDN(Na), conv(Na, M, 5, 2))
        self.g_s = Synthesis(M, N, synthesis_blocks, synthesis_skip)
        self.h_a = nn.Sequential(conv(M, N, 3, 1), nn.LeakyReLU(LRELU_SLOPE),
                                 conv(N, N, 5, 2), nn.LeakyReLU(LRELU_SLOPE),
                                 conv(N, N, 5, 2))
        self.h_s = nn.Sequential(deconv(N, M), nn.LeakyReLU(LRELU_SLOPE),
                                 deconv(M, M * 3 // 2), nn.LeakyReLU(LRELU_SLOPE),
                                 conv(M * 3 // 2, 2 * M, 3, 1))
        # MSE-optimal step size ~ 1/sqrt(lambda): start the gains there, relative to the middle level
        lam = torch.tensor(lambdas, dtype=torch.float32)
        init = 0.5 * torch.log(lam / torch.exp(torch.log(lam).mean()))
        self.gain_y = GainUnits(levels, M, init)
        self.gain_y_inv = GainUnits(levels, M, -init)
        self.gain_z = GainUnits(levels, N)
        self.gain_z_inv = GainUnits(levels, N)
        self.entropy_bottleneck = FactorizedPrior(N)
        if context == "checkerboard":
            # its own random stream: the global one (training noise) does not depend on the design
            with torch.random.fork_rng():
                torch.manual_seed(0)
                self.context = MaskedConv2d(M, 2 * M, checkerboard_mask(5))
                self.entropy_parameters = nn.Sequential(conv(4 * M, 2 * M, 1, 1), nn.LeakyReLU(LRELU_SLOPE),
                                                        conv(2 * M, 2 * M, 1, 1), nn.LeakyReLU(LRELU_SLOPE),
                                                        conv(2 * M, 2 * M, 1, 1))
            with torch.no_grad():
                self.entropy_parameters[4].weight.zero_()
                self.entropy_parameters[4].bias.zero_()

    def encoder_parameters(self):
        """What only the encoder applies (analysis, hyper-analysis and their gains): training these
        alone keeps the decoder, its entropy tables and every file coded before bit-exactly as they
        were."""
        return [q for name, q in self.named_parameters() if is_encoder_parameter(name)]

    def context_parameters(self):
        """The parameters of the context branch (empty for a plain model)."""
        if self.context_kind is None:
            return []
        return list(self.context.parameters()) + list(self.entropy_parameters.parameters())

    @torch.no_grad()
    def extend_levels_below(self, k):
        """Add k levels under the lowest one, their log-gains extrapolated linearly from the two
        lowest levels (a trained model codes well there at once; fine-tuning then refines them)."""
        if k <= 0:
            return
        for gu in (self.gain_y, self.gain_y_inv, self.gain_z, self.gain_z_inv):
            g = gu.log.data
            step = g[1] - g[0]
            below = torch.stack([g[0] - step * j for j in range(k, 0, -1)])
            gu.log = nn.Parameter(torch.cat([below, g]))
        self.lambdas = ladder(k, self.lambdas)
        self.levels = len(self.lambdas)

    # ---- pieces (shared by training, validation and export) ----
    def hyper_params(self, z_hat, level, bf16=False, h_s=None):
        p = self.transform(self.h_s if h_s is None else h_s, z_hat * self.gain_z_inv.at(level), bf16)
        means, scales = p[:, :self.M], p[:, self.M:]
        return means, scales

    @torch.no_grad()
    def gained_latents(self, y, level):
        """The analysis output y at gain `level` (float [B]): (gained y, rounded hyper-latents z_hat),
        as the codec quantises them."""
        yg = y * self.gain_y.at(level)
        return yg, torch.round(self.h_a(yg) * self.gain_z.at(level))

    def context_params(self, y_hat, means, scales, bf16=False):
        """Means and scales of every latent given the hyperprior's (`means`, `scales`) and the
        quantised latents `y_hat` (gained domain), of which only the anchors are read: the anchors'
        are returned unchanged, the non-anchors' corrected (mean + d, max(scale, bound) * exp(e)).
        A plain model returns its inputs."""
        if self.context_kind is None:
            return means, scales
        anchors = checkerboard_anchors(y_hat.shape[-2], y_hat.shape[-1], y_hat.device)
        ctx = self.transform(self.context, y_hat * anchors, bf16)
        d = self.transform(self.entropy_parameters, torch.cat([means, scales, ctx], 1), bf16)
        means_c = means + d[:, :self.M]
        scales_c = lower_bound(scales, SCALE_BOUND) * torch.exp(d[:, self.M:])
        return torch.where(anchors, means, means_c), torch.where(anchors, scales, scales_c)

    def transform(self, net, x, bf16):
        """One of the four transforms; with `bf16`, under CPU autocast (its convolutions in
        bfloat16), the result back in float32."""
        if not bf16:
            return net(x)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return net(x).float()

    def forward(self, x, level, fid=False, bf16=False, g_a=None, g_s=None, h_s=None):
        """Training pass. x: [B,3,H,W] in [0,1], H and W multiples of 64; level: float [B].

        Rate: additive uniform noise. Synthesis input: straight-through rounding of (y - mean) + mean;
        the context branch reads the anchors of the same straight-through y_hat.
        `bf16`: the transforms' convolutions in bfloat16; gains, noise, rounding and likelihoods
        stay float32. `g_a`, `g_s`, `h_s`: callables that replace the analysis, the synthesis and
        the hyper-synthesis (a codec whose transforms also read other inputs,
        training/layered/model.py). Returns a dict with
        x_hat, per-sample bits and (if fid) the feature-identity MSE per sample.
        """
        g_a = self.g_a if g_a is None else g_a
        g_s = self.g_s if g_s is None else g_s
        y = self.transform(g_a, x, bf16)
        yg = y * self.gain_y.at(level)
        z = self.transform(self.h_a, yg, bf16) * self.gain_z.at(level)
        z_lik = self.entropy_bottleneck.likelihood(z + torch.empty_like(z).uniform_(-0.5, 0.5))
        z_hat = ste_round(z)
        means, scales = self.hyper_params(z_hat, level, bf16, h_s)
        if self.context_kind is not None:
            # the anchors as the decoder has them after the first pass (their means are final)
            means, scales = self.context_params(ste_round(yg - means) + means, means, scales, bf16)
        y_lik = gaussian_likelihood(yg + torch.empty_like(yg).uniform_(-0.5, 0.5), means, scales)
        y_hat = ste_round(yg - means) + means
        x_hat = self.transform(g_s, y_hat * self.gain_y_inv.at(level), bf16)
        out = {
            "x_hat": x_hat,
            "bits_y": -torch.log2(y_lik).flatten(1).sum(1),
            "bits_z": -torch.log2(z_lik).flatten(1).sum(1),
        }
        if fid:
            # Feature identity: F0 = quantised latent of the image (what the decoder sees), F1 = latent of
            # the decoded 8-bit image re-encoded by the same g_a; gradient flows through both passes.
            x1 = quantize8_ste(x_hat)
            y1 = self.transform(g_a, x1, bf16) * self.gain_y.at(level)
            out["fid"] = (y_hat - y1).pow(2).flatten(1).mean(1)
        return out

    @torch.no_grad()
    def evaluate(self, x, levels, grid="means", g_a=None, g_s=None, h_s=None):
        """Real quantisation (rounding), for validation. x: [1,3,H,W] padded to a multiple of 64.
        `grid`: "means" rounds y - mean (y_hat = round(y - mean) + mean), "integer" rounds y itself
        (y_hat = round(y), the integer grid of .nic flags bit 2; no context model). The rate is the
        likelihood of y_hat's bin either way. `g_a`, `g_s`, `h_s` as in forward. Returns [(bits, x_hat)]
        per level."""
        if grid not in ("means", "integer") or (grid == "integer" and self.context_kind is not None):
            raise ValueError(f"grid {grid!r} is not available for this model")
        g_a = self.g_a if g_a is None else g_a
        g_s = self.g_s if g_s is None else g_s
        y = g_a(x)
        res = []
        for lv in levels:
            level = torch.full((x.shape[0],), float(lv))
            yg, z_hat = self.gained_latents(y, level)
            z_bits = -torch.log2(self.entropy_bottleneck.likelihood(z_hat)).sum()
            means, scales = self.hyper_params(z_hat, level, h_s=h_s)
            if self.context_kind is not None:
                means, scales = self.context_params(torch.round(yg - means) + means, means, scales)
            y_hat = torch.round(yg - means) + means if grid == "means" else torch.round(yg)
            y_bits = -torch.log2(gaussian_likelihood(y_hat, means, scales)).sum()
            x_hat = g_s(y_hat * self.gain_y_inv.at(level))
            res.append((float(y_bits + z_bits), x_hat))
        return res


ENCODER_MODULES = ("g_a", "h_a", "gain_y", "gain_z")


def is_encoder_parameter(name):
    """True for a parameter (state-dict name) that only the encoder applies."""
    return name.split(".")[0] in ENCODER_MODULES


DECODER_ONLY_MODULES = ("g_s", "gain_y_inv")


def is_decoder_only_parameter(name):
    """True for a parameter that the decoder alone applies once the symbols are known: changing it
    changes no bitstream, only the reconstruction."""
    return name.split(".")[0] in DECODER_ONLY_MODULES


def from_args(args, context=None):
    """The model a run's arguments (train.py's, as saved in its checkpoints) describe, untrained."""
    return MeanScaleHyperprior(args.get("N", 64), args.get("M", 96), ladder(args.get("levels_below", 0)),
                               context=context, Na=args.get("Na") or None,
                               synthesis_blocks=args.get("synthesis_blocks", 0),
                               synthesis_skip=args.get("synthesis_skip", False))


def pad64(x):
    """x padded on the right and bottom to a multiple of 64 by repeating the last row and column,
    as the codec pads every image (docs/nic-format.md)."""
    h, w = x.shape[-2:]
    ph, pw = (-h) % 64, (-w) % 64
    return F.pad(x, (0, pw, 0, ph), mode="replicate") if (ph or pw) else x


def quality_to_level(q, levels):
    """--quality 1..100 -> continuous gain level in [0, L-1] (linear; level l <-> q = 1 + 99 l/(L-1))."""
    q = min(max(float(q), 1.0), 100.0)
    return (q - 1.0) / 99.0 * (levels - 1)


# --------------------------------------------------------------------------------------------
# Inference-form state dict (what the record stores and the Swift engine reads)
# --------------------------------------------------------------------------------------------

def inference_state_dict(model):
    """Effective tensors: GDN beta/gamma (not their reparameterisation), gains (not logs),
    plus the raw factorised-prior parameters (training only) under entropy_bottleneck.*"""
    if model.g_s.skip is not None:
        raise ValueError("the synthesis has a linear skip path (Synthesis.add_skip), which no record holds")
    out = {}
    for seq in ("g_a", "g_s", "h_a", "h_s"):
        for i, m in enumerate(getattr(model, seq)):
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                out[f"{seq}.{i}.weight"] = m.weight.detach().clone()
                out[f"{seq}.{i}.bias"] = m.bias.detach().clone()
            elif isinstance(m, GDN):
                out[f"{seq}.{i}.beta"] = m.beta().detach().clone()
                out[f"{seq}.{i}.gamma"] = m.gamma().detach().clone()
    for name, conv in synthesis_block_convs(model):
        out[f"{name}.weight"] = conv.weight.detach().clone()
        out[f"{name}.bias"] = conv.bias.detach().clone()
    for name in ("y", "y_inv", "z", "z_inv"):
        out[f"gain.{name}"] = torch.exp(getattr(model, "gain_" + name).log.detach())
    for k, v in model.entropy_bottleneck.state_dict().items():
        out[f"entropy_bottleneck.{k}"] = v.detach().clone()
    if model.context_kind is not None:
        out["context.weight"] = (model.context.weight * model.context.mask).detach().clone()
        out["context.bias"] = model.context.bias.detach().clone()
        for i in (0, 2, 4):
            out[f"entropy_parameters.{i}.weight"] = model.entropy_parameters[i].weight.detach().clone()
            out[f"entropy_parameters.{i}.bias"] = model.entropy_parameters[i].bias.detach().clone()
    return out


def synthesis_block_convs(model):
    """(tensor-name prefix, convolution) of every residual block of the synthesis, in order."""
    blocks = model.g_s.blocks if model.g_s.n_blocks else []
    return [(f"g_s.blocks.{b}.{part}", getattr(block, part)) for b, block in enumerate(blocks)
            for part in ("conv1", "conv2")]


def load_inference_state_dict(model, sd):
    """Inverse of inference_state_dict (used to continue training from a committed record)."""
    sd = {k: v.to(torch.float32) for k, v in sd.items()}
    with torch.no_grad():
        for seq in ("g_a", "g_s", "h_a", "h_s"):
            for i, m in enumerate(getattr(model, seq)):
                if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                    m.weight.copy_(sd[f"{seq}.{i}.weight"])
                    m.bias.copy_(sd[f"{seq}.{i}.bias"])
                elif isinstance(m, GDN):
                    m.set_effective(sd[f"{seq}.{i}.beta"], sd[f"{seq}.{i}.gamma"])
        for name, conv in synthesis_block_convs(model):
            conv.weight.copy_(sd[f"{name}.weight"])
            conv.bias.copy_(sd[f"{name}.bias"])
        for name in ("y", "y_inv", "z", "z_inv"):
            getattr(model, "gain_" + name).log.copy_(torch.log(sd[f"gain.{name}"].clamp_min(1e-8)))
        eb = {k[len("entropy_bottleneck."):]: v for k, v in sd.items() if k.startswith("entropy_bottleneck.")}
        model.entropy_bottleneck.load_state_dict(eb)
        if model.context_kind is not None:
            model.context.weight.copy_(sd["context.weight"])
            model.context.bias.copy_(sd["context.bias"])
            for i in (0, 2, 4):
                model.entropy_parameters[i].weight.copy_(sd[f"entropy_parameters.{i}.weight"])
                model.entropy_parameters[i].bias.copy_(sd[f"entropy_parameters.{i}.bias"])


def from_record(path):
    """The model of an fp16 record (export_record.py), in training form (float32)."""
    from safetensors.torch import load_file
    sd = load_file(path)
    n, m, na = sd["h_a.0.weight"].shape[0], sd["g_a.6.weight"].shape[0], sd["g_a.6.weight"].shape[1]
    blocks = sum(1 for k in sd if k.startswith("g_s.blocks.") and k.endswith(".conv1.weight"))
    model = MeanScaleHyperprior(n, m, ladder(sd["gain.y"].shape[0] - len(LAMBDAS)), Na=na, synthesis_blocks=blocks)
    load_inference_state_dict(model, {k: v for k, v in sd.items() if not k.startswith("entropy.")})
    return model


def conv_entry(name, m):
    return {"name": name, "op": "conv2d", "in": m.in_channels, "out": m.out_channels, "kernel": m.kernel_size[0],
            "stride": m.stride[0], "padding": m.padding[0]}


def describe(model):
    """Layer list for the Swift engine (names = tensor-name prefixes in the record); the synthesis'
    residual blocks are `residual` entries before its child `BLOCKS_AT`."""
    def seq(name):
        net, layers = getattr(model, name), []
        for i, m in enumerate(net):
            if isinstance(net, Synthesis) and i == net.BLOCKS_AT and net.n_blocks:
                layers += [{"op": "residual", "layers": [
                    dict(conv_entry(f"{name}.blocks.{b}.conv1", block.conv1), activation="leaky_relu",
                         negative_slope=block.act.negative_slope),
                    conv_entry(f"{name}.blocks.{b}.conv2", block.conv2)]} for b, block in enumerate(net.blocks)]
            if isinstance(m, nn.ConvTranspose2d):
                layers.append({"name": f"{name}.{i}", "op": "conv_transpose2d", "in": m.in_channels,
                               "out": m.out_channels, "kernel": m.kernel_size[0], "stride": m.stride[0],
                               "padding": m.padding[0], "output_padding": m.output_padding[0]})
            elif isinstance(m, nn.Conv2d):
                layers.append(conv_entry(f"{name}.{i}", m))
            elif isinstance(m, GDN):
                layers.append({"name": f"{name}.{i}", "op": "gdn", "inverse": m.inverse,
                               "channels": m.beta_p.numel()})
            elif isinstance(m, nn.LeakyReLU):
                layers.append({"op": "leaky_relu", "negative_slope": m.negative_slope})
        return layers
    arch = {
        "type": "mean_scale_hyperprior_gain", "N": model.N, "M": model.M, "N_analysis": model.Na,
        "levels": model.levels,
        "stride": 64, "g_a": seq("g_a"), "g_s": seq("g_s"), "h_a": seq("h_a"), "h_s": seq("h_s"),
        "dataflow": [
            "x: RGB in [0,1], NCHW, padded on the right/bottom to a multiple of 64 (replicate padding)",
            "y = g_a(x) * gain.y[l]                       (per-channel, [M])",
            "z = h_a(y) * gain.z[l];  z_hat = round(z)     (integer symbols, factorised prior: entropy.z.*)",
            "p = h_s(z_hat * gain.z_inv[l]);  means = p[:, :M], scales = max(p[:, M:], scale_bound)",
            "y_hat = round(y - means) + means              (symbols round(y - means) ~ N(0, scales): entropy.y.*)",
            "x_hat = g_s(y_hat * gain.y_inv[l]), crop, clamp to [0,1], round to 8 bits",
        ],
        "gain_interpolation": "level s = (quality - 1) / 99 * (levels - 1); l = min(floor(s), levels - 2); "
                              "t = s - l; g = g[l]^(1-t) * g[l+1]^t (all four gain tensors)",
        "scale_bound": SCALE_BOUND, "likelihood_bound": LIKELIHOOD_BOUND, "lambdas": model.lambdas,
    }
    if model.context_kind == "checkerboard":
        mask = checkerboard_mask(model.context.kernel_size[0])
        arch["context"] = {
            "type": "checkerboard", "anchors": "latents with (row + col) even; the others are non-anchors",
            "context": {"name": "context", "op": "conv2d", "in": model.M, "out": 2 * model.M,
                        "kernel": mask.shape[0], "stride": 1, "padding": mask.shape[0] // 2,
                        "taps": [[int(dy), int(dx)] for dy, dx in mask.nonzero().tolist()]},
            "entropy_parameters": seq("entropy_parameters"),
            "macs_per_pixel": context_macs_per_pixel(model.M, mask.shape[0]),
            "dataflow": [
                "pass 1: anchors coded with the hyperprior's means / scales: y_hat_a = round(y - means) + means",
                "a = y_hat at the anchors, 0 at the non-anchors;  c = context(a)   (zero padding)",
                "d = entropy_parameters(concat(means, p[:, M:] (raw scales), c))   (at the non-anchors)",
                "pass 2: non-anchors: means' = means + d[:, :M], scales' = max(p[:, M:], scale_bound) * "
                "exp(d[:, M:]), then max(scales', scale_bound); y_hat = round(y - means') + means'",
            ],
        }
    return arch


# --------------------------------------------------------------------------------------------
# Function-preserving growth (a wider model that computes what a narrower one does)
# --------------------------------------------------------------------------------------------

# The factorised density of a new z channel: all factors 0, biases 0 but the last (0.01), every
# softplus(matrix) = a, so the cumulative is sigmoid(81 a^5 z + 0.01) = sigmoid(GROW_Z_SLOPE z + 0.01):
# P(z = 0) ~ 1 - 2 sigmoid(-20), about 6e-9 bits.
GROW_Z_SLOPE = 40.0


@torch.no_grad()
def grow(src, N2, M2, seed=0, new_scale=SCALE_BOUND, Na2=None):
    """A model with N2 >= src.N hidden / hyper-latent channels, M2 >= src.M latent channels and
    Na2 >= src.Na hidden channels in the analysis (default: max(N2, src.Na), so a model whose
    analysis is as wide as the rest stays so) whose reconstruction is the source's and whose rate
    exceeds it by a negligible constant at the start.

    Every old channel keeps its index (the scale channels of h_s move from M.. to M2..). New channels:
      - the analysis outputs of new latents (g_a.6) and of new hyper-latents (h_a.4) have zero
        weights and bias, so y_new = z_new = 0; the hyper-synthesis rows of the new means are zero
        (mean 0), those of the new scales zero with bias `new_scale` (by default the bound, 0.11), so
        y_hat_new = round(0 - 0) + 0 = 0 exactly and each new latent costs -log2(erf(0.5 / (0.11
        sqrt 2))) = 7.9e-6 bits (rounded latents; grow_rate_bound); a larger `new_scale` costs more
        bits at the start (0.3: 0.145 bits per new latent) but lowers the rate a new latent pays to
        leave 0, so that training opens the new channels sooner; a new z channel's density is a steep logistic at 0
        (GROW_Z_SLOPE), ~6e-9 bits per hyper-latent;
      - a new hidden unit (GDN / LReLU layers) gets random incoming weights (normal, the std of the
        layer's old weights) and zero weights towards the old units; GDN / IGDN keep beta 1 and a
        diagonal gamma 0.1 for it, with zero gamma between old and new channels;
      - the layers whose new inputs are exactly 0 at the start (g_s.0 from y_hat, h_s.0 from z_hat,
        h_a.0 from y) get random weights from them, so the new latents receive gradient at once
        (the distortion reaches y_new through g_s.0; a zero there and in g_a.6 would be a saddle
        where neither moves);
      - gains of a new channel: the mean of the old channels' log-gains at each level.
    """
    N, M = src.N, src.M
    Na2 = Na2 or max(N2, src.Na)
    if src.context_kind is not None or src.g_s.n_blocks or src.g_s.skip is not None:
        raise ValueError("grow() takes a plain model (grow first, then add_context, add_synthesis_blocks or "
                         "the skip path)")
    if not new_scale >= SCALE_BOUND:
        raise ValueError(f"new_scale {new_scale} is below the scale bound {SCALE_BOUND}")
    if N2 < N or M2 < M or M2 % 2 or Na2 < src.Na:
        raise ValueError(f"cannot grow N={N}, M={M}, Na={src.Na} to N={N2}, M={M2}, Na={Na2} "
                         "(widths only grow; M even)")
    dst = MeanScaleHyperprior(N2, M2, src.lambdas, Na=Na2)
    gen = torch.Generator().manual_seed(seed)

    def randn(shape, std):
        return torch.randn(shape, generator=gen) * std

    def grow_conv(d, s, out_idx=None, inputs_zero=False, new_out="random", new_bias=0.0):
        """Copy conv s into the wider conv d; out_idx: where the old output channels go in d."""
        w, wd = s.weight, d.weight
        if isinstance(s, nn.ConvTranspose2d):            # (in, out, kH, kW) -> view as (out, in, ...)
            w, wd = w.transpose(0, 1), wd.transpose(0, 1)
        cout, cin = w.shape[:2]
        cout2, cin2 = wd.shape[:2]
        out_idx = torch.arange(cout) if out_idx is None else out_idx
        is_new = torch.ones(cout2, dtype=torch.bool)
        is_new[out_idx] = False
        std = float(w.std())
        full = torch.zeros(wd.shape)
        if new_out == "random":
            full[is_new] = randn((int(is_new.sum()),) + tuple(wd.shape[1:]), std)
        old = torch.zeros((cout,) + tuple(wd.shape[1:]))
        old[:, :cin] = w
        if inputs_zero and cin2 > cin:
            old[:, cin:] = randn((cout, cin2 - cin) + tuple(wd.shape[2:]), std)
        full[out_idx] = old
        wd.copy_(full)
        b = torch.full((cout2,), float(new_bias))
        b[out_idx] = s.bias
        d.bias.copy_(b)

    def grow_gdn(d, s):
        c = s.beta_p.numel()
        d.beta_p[:c] = s.beta_p
        d.gamma_p[:c, :c] = s.gamma_p            # cross terms stay at their bound: gamma 0

    # analysis: new y channels are 0
    for i in (0, 2, 4):
        grow_conv(dst.g_a[i], src.g_a[i])
        grow_gdn(dst.g_a[i + 1], src.g_a[i + 1])
    grow_conv(dst.g_a[6], src.g_a[6], new_out="zero")
    # synthesis: y_hat_new = 0, so g_s.0 may read it with random weights
    grow_conv(dst.g_s[0], src.g_s[0], inputs_zero=True)
    for i in (2, 4):
        grow_gdn(dst.g_s[i - 1], src.g_s[i - 1])
        grow_conv(dst.g_s[i], src.g_s[i])
    grow_gdn(dst.g_s[5], src.g_s[5])
    grow_conv(dst.g_s[6], src.g_s[6])
    # hyper-analysis: reads y (new channels 0); new z channels are 0
    grow_conv(dst.h_a[0], src.h_a[0], inputs_zero=True)
    grow_conv(dst.h_a[2], src.h_a[2])
    grow_conv(dst.h_a[4], src.h_a[4], new_out="zero")
    # hyper-synthesis: reads z_hat (new channels 0); new means 0, new scales at the bound
    grow_conv(dst.h_s[0], src.h_s[0], inputs_zero=True)
    grow_conv(dst.h_s[2], src.h_s[2])
    grow_conv(dst.h_s[4], src.h_s[4], out_idx=torch.cat([torch.arange(M), M2 + torch.arange(M)]),
              new_out="zero")
    dst.h_s[4].bias[M2 + M:] = new_scale
    # gains
    for name in ("gain_y", "gain_y_inv", "gain_z", "gain_z_inv"):
        g = getattr(src, name).log
        gd = getattr(dst, name).log
        gd[:, :g.shape[1]] = g
        gd[:, g.shape[1]:] = g.mean(1, keepdim=True)
    # factorised prior: old channels copied, new ones a steep logistic at 0
    eb, ebd = src.entropy_bottleneck, dst.entropy_bottleneck
    a = (GROW_Z_SLOPE / 81.0) ** 0.2                 # filters 3-3-3-3: slope = 3^4 a^5
    for k in range(len(eb.matrices)):
        ebd.matrices[k][:N] = eb.matrices[k]
        ebd.matrices[k][N:] = math.log(math.expm1(a))
        ebd.biases[k][:N] = eb.biases[k]
        ebd.biases[k][N:] = 0.0
    # off-centre by a hair: likelihood() picks the tail by sign(lo + hi), which is 0 at an exactly
    # symmetric density (it would give P = 0)
    ebd.biases[-1][N:] = 0.01
    for k in range(len(eb.factors)):
        ebd.factors[k][:N] = eb.factors[k]
        ebd.factors[k][N:] = 0.0
    return dst


@torch.no_grad()
def add_context(src, kind):
    """A copy of the plain model `src` with a context branch of `kind` that computes exactly what
    `src` does (the branch's corrections start at zero: the last entropy-parameters layer is 0)."""
    if src.context_kind is not None:
        raise ValueError(f"the model already has a {src.context_kind} context")
    with torch.random.fork_rng():          # the caller's random stream is left as it was
        dst = MeanScaleHyperprior(src.N, src.M, src.lambdas, context=kind, Na=src.Na)
    missing, unexpected = dst.load_state_dict(src.state_dict(), strict=False)
    new = {k for k in dst.state_dict() if k.startswith(("context.", "entropy_parameters."))}
    assert not unexpected and set(missing) == new, (missing, unexpected)
    return dst


@torch.no_grad()
def add_synthesis_blocks(src, blocks, seed=0):
    """A copy of `src` whose synthesis has `blocks` more residual blocks (Synthesis) and computes
    exactly what `src` does: each new block's second convolution is zero. The first convolutions
    get random weights from their own seeded stream (the caller's is left as it was)."""
    if blocks <= 0:
        raise ValueError(f"blocks must be positive, not {blocks}")
    if src.context_kind is not None:
        raise ValueError("add_synthesis_blocks() takes a plain model")
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        dst = MeanScaleHyperprior(src.N, src.M, src.lambdas, Na=src.Na,
                                  synthesis_blocks=src.g_s.n_blocks + blocks)
    old = src.state_dict()
    missing, unexpected = dst.load_state_dict(old, strict=False)
    new = {k for k in dst.state_dict() if k not in old}
    assert not unexpected and set(missing) == new and all(k.startswith("g_s.blocks.") for k in new), (missing, unexpected)
    return dst


def with_encoder(model, other):
    """A copy of `model` with the encoder of `other` (ENCODER_MODULES: g_a, h_a and the encoder's
    gains; its analysis width too): a decoder trained on one encoder's latents, run with another
    encoder of the same codec. Raises ValueError when the two differ in anything else the
    bitstream depends on (the entropy model, the hyper-synthesis, gain_z_inv), compared at float16
    precision, the precision of the records: the two encoders must code for the same tables."""
    if model.context_kind is not None or other.context_kind is not None:
        raise ValueError("with_encoder() takes plain models")
    mine, theirs = model.state_dict(), other.state_dict()
    for k, v in theirs.items():
        if is_encoder_parameter(k) or is_decoder_only_parameter(k):
            continue
        if k not in mine or mine[k].shape != v.shape or not torch.equal(mine[k].half(), v.half()):
            raise ValueError(f"{k} differs between the two models: not the same entropy model")
    dst = MeanScaleHyperprior(model.N, model.M, model.lambdas, Na=other.Na, synthesis_blocks=model.g_s.n_blocks)
    dst.load_state_dict({k: (theirs if is_encoder_parameter(k) else mine)[k] for k in dst.state_dict()})
    return dst


def grown_masks(model, N, M, Na=None):
    """{parameter name: bool mask} of the elements of `model` (grown by `grow` from widths N, M and
    analysis width Na, default N) that grow() created: those indexed by a new channel in any
    dimension. Every other element is one of the source model's parameters."""
    N2, M2 = model.N, model.M
    new = {"N": (N, N2), "M": (M, M2), "S": (M * 3 // 2, M2 * 3 // 2), "A": (Na or N, model.Na)}

    def channel_mask(kind, size):
        m = torch.zeros(size, dtype=torch.bool)
        if kind == "MS":   # h_s.4's outputs: means [0, M2), scales [M2, 2 M2)
            m[M:M2] = True
            m[M2 + M:] = True
        elif kind is not None:
            m[new[kind][0]:new[kind][1]] = True
        return m

    # the channel kind of each dimension (None: not a channel dimension); transposed convolutions
    # are (in, out, kH, kW)
    kinds = {"g_a.0.weight": ("A", None), "g_a.6.weight": ("M", "A"), "g_a.6.bias": ("M",),
             "g_s.0.weight": ("M", "N"), "g_s.6.weight": ("N", None), "g_s.6.bias": (None,),
             "h_a.0.weight": ("N", "M"), "h_s.0.weight": ("N", "M"), "h_s.0.bias": ("M",),
             "h_s.2.weight": ("M", "S"), "h_s.2.bias": ("S",), "h_s.4.weight": ("MS", "S"), "h_s.4.bias": ("MS",),
             "gain_y.log": (None, "M"), "gain_y_inv.log": (None, "M"),
             "gain_z.log": (None, "N"), "gain_z_inv.log": (None, "N"),
             "g_s.skip.weight": (None, None), "g_s.skip.bias": (None,)}   # added after any growth
    masks = {}
    for name, prm in model.named_parameters():
        if name in kinds:
            dims = kinds[name]
        elif name.startswith("entropy_bottleneck."):
            dims = ("N",)
        elif name.startswith("g_a."):                   # Na -> Na convolutions, GDN beta and gamma
            dims = ("A",) * min(prm.dim(), 2)
        elif name.startswith(("g_s.", "h_a.")):          # N -> N convolutions, GDN beta and gamma
            dims = ("N",) * min(prm.dim(), 2)
        else:
            raise ValueError(f"grown_masks: no channel layout for {name}")
        mask = torch.zeros(prm.shape, dtype=torch.bool)
        for d, kind in enumerate(dims):
            shape = [1] * prm.dim()
            shape[d] = prm.shape[d]
            mask |= channel_mask(kind, prm.shape[d]).view(shape)
        masks[name] = mask
    return masks


def grow_rate_bound(new_y, new_z, new_scale=SCALE_BOUND):
    """Upper bound on the extra bits of a grown model at the start (rounded latents): new_y new
    latents at scale `new_scale` and new_z new hyper-latents under the GROW_Z_SLOPE logistic."""
    py = math.erf(0.5 / (new_scale * math.sqrt(2.0)))
    pz = 1.0 / (1.0 + math.exp(-GROW_Z_SLOPE / 2)) - 1.0 / (1.0 + math.exp(GROW_Z_SLOPE / 2))
    return -new_y * math.log2(py) - new_z * math.log2(pz)
