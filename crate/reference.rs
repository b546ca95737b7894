//! Plain-Rust CPU references for every GPU kernel and for the whole loss, in f64. They define what
//! the WGSL kernels must compute; tests compare the two on random data. Layouts match the kernels:
//! activations `[c][h][w]`, conv weights OIHW `[cout][cin][3][3]`.

#![allow(clippy::too_many_arguments)]

use crate::kernels::MEAN_BGR;
use crate::vgg::{layer_shapes, Pooling, CONTENT_LAYER, STYLE_LAYERS};
use crate::weights::VggWeights;

/// relu(conv3x3(input) + bias), zero padding 1. `input [cin][h][w]` → `[cout][h][w]`.
pub fn conv_forward(input: &[f64], cin: usize, cout: usize, h: usize, w: usize, weight: &[f32], bias: &[f32]) -> Vec<f64> {
    let mut out = vec![0.0; cout * h * w];
    for o in 0..cout {
        for y in 0..h {
            for x in 0..w {
                let mut s = bias[o] as f64;
                for i in 0..cin {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (yy, xx) = (y as isize + ky as isize - 1, x as isize + kx as isize - 1);
                            if yy < 0 || xx < 0 || yy >= h as isize || xx >= w as isize {
                                continue;
                            }
                            s += weight[((o * cin + i) * 3 + ky) * 3 + kx] as f64 * input[(i * h + yy as usize) * w + xx as usize];
                        }
                    }
                }
                out[(o * h + y) * w + x] = s.max(0.0);
            }
        }
    }
    out
}

/// Gradient w.r.t. a conv layer's input from `dout [cout][h][w]`, the gradient w.r.t. its
/// pre-activation: `din[i][y][x] = Σ_o,ky,kx W[o][i][ky][kx] · dout[o][y−ky+1][x−kx+1]`, multiplied
/// by `[in_act > 0]` when the input is a ReLU output `in_act [cin][h][w]` (the GPU kernels pass
/// gradients down already through the ReLU of the layer they belong to).
pub fn conv_backward(dout: &[f64], in_act: Option<&[f64]>, cin: usize, cout: usize, h: usize, w: usize, weight: &[f32]) -> Vec<f64> {
    let mut din = vec![0.0; cin * h * w];
    for o in 0..cout {
        for y in 0..h {
            for x in 0..w {
                let g = dout[(o * h + y) * w + x];
                for i in 0..cin {
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let (yy, xx) = (y as isize + ky as isize - 1, x as isize + kx as isize - 1);
                            if yy < 0 || xx < 0 || yy >= h as isize || xx >= w as isize {
                                continue;
                            }
                            din[(i * h + yy as usize) * w + xx as usize] += weight[((o * cin + i) * 3 + ky) * 3 + kx] as f64 * g;
                        }
                    }
                }
            }
        }
    }
    relu_mask(din, in_act)
}

/// `g · [act > 0]` elementwise (no-op without `act`).
pub fn relu_mask(mut g: Vec<f64>, act: Option<&[f64]>) -> Vec<f64> {
    if let Some(a) = act {
        g.iter_mut().zip(a).filter(|(_, &a)| a <= 0.0).for_each(|(g, _)| *g = 0.0);
    }
    g
}

/// 2×2 stride-2 pooling, floor size. Max pooling picks the first maximum in (0,0),(0,1),(1,0),(1,1).
pub fn pool_forward(input: &[f64], c: usize, h: usize, w: usize, avg: bool) -> Vec<f64> {
    let (oh, ow) = (h / 2, w / 2);
    let mut out = vec![0.0; c * oh * ow];
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                let v = window(input, ch, h, w, oy, ox);
                out[(ch * oh + oy) * ow + ox] = if avg { v.iter().sum::<f64>() / 4.0 } else { v[argmax(&v)] };
            }
        }
    }
    out
}

fn window(input: &[f64], ch: usize, h: usize, w: usize, oy: usize, ox: usize) -> [f64; 4] {
    let b = (ch * h + 2 * oy) * w + 2 * ox;
    [input[b], input[b + 1], input[b + w], input[b + w + 1]]
}

fn argmax(v: &[f64; 4]) -> usize {
    let mut best = 0;
    for i in 1..4 {
        if v[i] > v[best] {
            best = i;
        }
    }
    best
}

/// Pooling backward: gradient w.r.t. `input [c][h][w]` from `dout [c][h/2][w/2]`, times
/// `[input > 0]` if `mask` (the input is a ReLU output; see [`conv_backward`]).
pub fn pool_backward(input: &[f64], dout: &[f64], c: usize, h: usize, w: usize, avg: bool, mask: bool) -> Vec<f64> {
    let (oh, ow) = (h / 2, w / 2);
    let mut din = vec![0.0; c * h * w];
    for ch in 0..c {
        for oy in 0..oh {
            for ox in 0..ow {
                let g = dout[(ch * oh + oy) * ow + ox];
                let b = (ch * h + 2 * oy) * w + 2 * ox;
                let pos = [b, b + 1, b + w, b + w + 1];
                if avg {
                    for p in pos {
                        din[p] = g / 4.0;
                    }
                } else {
                    din[pos[argmax(&window(input, ch, h, w, oy, ox))]] = g;
                }
            }
        }
    }
    relu_mask(din, mask.then_some(input))
}

/// G = F·Fᵀ / (C·N) for `feat [c][n]`.
pub fn gram(feat: &[f64], c: usize, n: usize) -> Vec<f64> {
    let mut g = vec![0.0; c * c];
    for i in 0..c {
        for j in 0..c {
            let s: f64 = (0..n).map(|p| feat[i * n + p] * feat[j * n + p]).sum();
            g[i * c + j] = s / (c * n) as f64;
        }
    }
    g
}

/// Style loss mean((G − A)²) and its gradient w.r.t. `feat` (unweighted).
pub fn style_loss(feat: &[f64], target: &[f64], c: usize, n: usize) -> (f64, Vec<f64>) {
    let g = gram(feat, c, n);
    let d: Vec<f64> = g.iter().zip(target).map(|(a, b)| a - b).collect();
    let loss = d.iter().map(|v| v * v).sum::<f64>() / (c * c) as f64;
    let coef = 4.0 / ((c as f64).powi(3) * n as f64);
    let mut grad = vec![0.0; c * n];
    for i in 0..c {
        for p in 0..n {
            grad[i * n + p] = coef * (0..c).map(|k| d[i * c + k] * feat[k * n + p]).sum::<f64>();
        }
    }
    (loss, grad)
}

/// Content loss mean((F − P)²) and its gradient.
pub fn content_loss(feat: &[f64], target: &[f64]) -> (f64, Vec<f64>) {
    let n = feat.len() as f64;
    let loss = feat.iter().zip(target).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / n;
    (loss, feat.iter().zip(target).map(|(a, b)| 2.0 * (a - b) / n).collect())
}

/// TV loss `Σ((x[y+1,x]−x[y,x])² + (x[y,x+1]−x[y,x])²) / (c·h·w)` and its gradient.
pub fn tv_loss(img: &[f64], c: usize, h: usize, w: usize) -> (f64, Vec<f64>) {
    let n = (c * h * w) as f64;
    let mut loss = 0.0;
    let mut grad = vec![0.0; img.len()];
    for ch in 0..c {
        for y in 0..h {
            for x in 0..w {
                let i = (ch * h + y) * w + x;
                if y + 1 < h {
                    let d = img[i + w] - img[i];
                    loss += d * d;
                    grad[i + w] += 2.0 * d / n;
                    grad[i] -= 2.0 * d / n;
                }
                if x + 1 < w {
                    let d = img[i + 1] - img[i];
                    loss += d * d;
                    grad[i + 1] += 2.0 * d / n;
                    grad[i] -= 2.0 * d / n;
                }
            }
        }
    }
    (loss / n, grad)
}

/// The free part f = 1 − k of element `i` of a `[3][hw]` image under the kept regions' mask `keep`
/// (`[hw]`; none: 1): the optimisers run on y in x = k·photo + (1 − k)·y.
pub fn free_part(keep: Option<&[f64]>, hw: usize, i: usize) -> f64 {
    keep.map_or(1.0, |k| 1.0 - k[i % hw])
}

/// One Adam step at step count `t` (1-based) with clamping to the valid pixel range; updates in
/// place. With `keep` (`[hw]`), on y in x = k·photo + (1 − k)·y: the gradient is f·grad and x moves
/// by f times Adam's step (f = 1 − k).
#[allow(clippy::too_many_arguments)]
pub fn adam_step(x: &mut [f64], m: &mut [f64], v: &mut [f64], grad: &[f64], hw: usize, t: i32, lr: f64, b1: f64, b2: f64, eps: f64, keep: Option<&[f64]>) {
    for i in 0..x.len() {
        let f = free_part(keep, hw, i);
        let g = f * grad[i];
        m[i] = b1 * m[i] + (1.0 - b1) * g;
        v[i] = b2 * v[i] + (1.0 - b2) * g * g;
        let mh = m[i] / (1.0 - b1.powi(t));
        let vh = v[i] / (1.0 - b2.powi(t));
        let mean = MEAN_BGR[(i / hw).min(2)] as f64;
        x[i] = (x[i] - f * lr * mh / (vh.sqrt() + eps)).clamp(-mean, 255.0 - mean);
    }
}

/// One step of the bias-corrected exponential moving average of the iterates at step `t`
/// (1-based): `avg_raw = d·avg_raw + (1−d)·x`, returned as `avg_raw / (1 − d^t)`.
pub fn ema_step(avg_raw: &mut [f64], x: &[f64], decay: f64, t: i32) -> Vec<f64> {
    for (a, &v) in avg_raw.iter_mut().zip(x) {
        *a = decay * *a + (1.0 - decay) * v;
    }
    avg_raw.iter().map(|a| a / (1.0 - decay.powi(t))).collect()
}

/// The L-BFGS of `shaders/lbfgs.wgsl`, as plainly as possible: a ring of m pair slots (iteration k
/// forms slot (k−1) mod m from the previous step; a pair failing the curvature check yᵀs > 1e-10
/// stays in its slot with ρ = 0, and H keeps its value), the two-loop recursion, and a fixed step
/// lr (at k = 0: lr/rms(g), a first step of lr pixels RMS) projected onto the pixel range. An
/// iterate whose loss rose more than 1% above the last accepted one (or is not finite) is
/// rejected: half the last step is taken back instead (after 8 times in a row, only while the loss
/// is not finite).
pub struct LbfgsRef {
    pub m: usize,
    pub lr: f64,
    pub s: Vec<Vec<f64>>,
    pub y: Vec<Vec<f64>>,
    pub rho: Vec<f64>,
    pub h: f64,
    pub gprev: Vec<f64>,
    pub k: usize,
    /// The last accepted loss (−1 before the first).
    pub last: f64,
    /// Steps taken back in a row, and in all.
    pub back: u32,
    pub backs: u32,
}

impl LbfgsRef {
    /// Empty history for `n` values.
    pub fn new(n: usize, m: usize, lr: f64) -> LbfgsRef {
        LbfgsRef { m, lr, s: vec![vec![0.0; n]; m], y: vec![vec![0.0; n]; m], rho: vec![0.0; m], h: 1.0, gprev: vec![0.0; n], k: 0, last: -1.0, back: 0, backs: 0 }
    }

    /// The backtracking check of the current iterate's `loss`; true: rejected.
    fn check(&mut self, loss: f64) -> bool {
        // A NaN loss is not finite; a finite one rose if it is over 1% above the last accepted.
        let rose = self.last >= 0.0 && loss > 1.01 * self.last;
        if self.k > 0 && (!loss.is_finite() || (rose && self.back < 8)) {
            self.back += 1;
            self.backs += 1;
            true
        } else {
            self.back = 0;
            self.last = loss;
            false
        }
    }

    /// Ends a scale: checks `loss` (that of `x`) and takes a rejected last step back whole.
    pub fn settle(&mut self, x: &mut [f64], loss: f64, hw: usize, keep: Option<&[f64]>) {
        if self.check(loss) {
            let last = (self.k + self.m - 1) % self.m;
            for (i, v) in x.iter_mut().enumerate() {
                *v -= free_part(keep, hw, i) * self.s[last][i];
            }
            self.s[last].iter_mut().for_each(|v| *v = 0.0);
        }
    }

    /// One iteration given the gradient `g` and the total `loss` at `x` (`[3][hw]`, network
    /// space); updates `x`. With `keep` (`[hw]`), on y in x = k·photo + (1 − k)·y: the gradient is
    /// f·g, x moves by f·step·q and s is that move over f (f = 1 − k; s = 0 where f = 0).
    pub fn step(&mut self, x: &mut [f64], g: &[f64], loss: f64, hw: usize, keep: Option<&[f64]>) {
        let m = self.m;
        if self.check(loss) {
            // Rejected: no pair, half the last step back; the new s is the step from x_(k−1).
            let (j, next) = ((self.k + m - 1) % m, self.k % m);
            self.y[j].iter_mut().for_each(|v| *v = 0.0);
            self.rho[j] = 0.0;
            for (i, v) in x.iter_mut().enumerate() {
                *v -= free_part(keep, hw, i) * 0.5 * self.s[j][i];
                self.s[next][i] = 0.5 * self.s[j][i];
            }
            self.k += 1;
            return;
        }
        let g: Vec<f64> = g.iter().enumerate().map(|(i, v)| free_part(keep, hw, i) * v).collect();
        let g = &g[..];
        let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| p * q).sum::<f64>();
        let j = (self.k + m - 1) % m;
        self.y[j] = g.iter().zip(&self.gprev).map(|(a, b)| a - b).collect();
        let ys = dot(&self.y[j], &self.s[j]);
        if ys > 1e-10 {
            self.rho[j] = 1.0 / ys;
            self.h = ys / dot(&self.y[j], &self.y[j]);
        } else {
            self.rho[j] = 0.0;
        }
        self.gprev = g.to_vec();
        let mut q: Vec<f64> = g.iter().map(|v| -v).collect();
        let mut alpha = vec![0.0; m];
        for i in 0..m {
            let slot = (j + m - i) % m;
            alpha[slot] = self.rho[slot] * dot(&self.s[slot], &q);
            for (qv, yv) in q.iter_mut().zip(&self.y[slot]) {
                *qv -= alpha[slot] * yv;
            }
        }
        q.iter_mut().for_each(|v| *v *= self.h);
        for i in 0..m {
            let slot = (j + 1 + i) % m;
            let b = self.rho[slot] * dot(&self.y[slot], &q);
            for (qv, sv) in q.iter_mut().zip(&self.s[slot]) {
                *qv += (alpha[slot] - b) * sv;
            }
        }
        let gg = dot(g, g);
        let t = match self.k {
            0 if gg > 0.0 => self.lr * (x.len() as f64 / gg).sqrt(),
            0 => 0.0,
            _ => self.lr,
        };
        let next = (j + 1) % m;
        for i in 0..x.len() {
            let mean = MEAN_BGR[(i / hw).min(2)] as f64;
            let f = free_part(keep, hw, i);
            let x1 = (x[i] + f * t * q[i]).clamp(-mean, 255.0 - mean);
            self.s[next][i] = if f > 0.0 { (x1 - x[i]) / f } else { 0.0 };
            x[i] = x1;
        }
        self.k += 1;
    }
}

/// RGBA8 → planar BGR minus mean.
/// A box of `c` planes moved from `src` (`sw`×`sh` per plane; box at `from` = (x, y, w, h)) into
/// `dst` (`dw`×`dh` per plane) at `to`: replaced, or added to when `add` (tile.wgsl `copy_box`).
#[allow(clippy::too_many_arguments)] // the two buffers with their shapes, the box and the mode
pub fn copy_box(src: &[f64], (sw, sh): (usize, usize), from: (usize, usize, usize, usize), dst: &mut [f64], (dw, dh): (usize, usize), to: (usize, usize), c: usize, add: bool) {
    let (fx, fy, bw, bh) = from;
    for ch in 0..c {
        for y in 0..bh {
            for x in 0..bw {
                let v = src[(ch * sh + fy + y) * sw + fx + x];
                let d = &mut dst[(ch * dh + to.1 + y) * dw + to.0 + x];
                *d = if add { *d + v } else { v };
            }
        }
    }
}

/// `sum[i] (+)= Σ_s partial[s·n + i]` over `splits` partial Grams of n = C² values (tile.wgsl
/// `gram_sum`).
pub fn gram_sum(partial: &[f64], n: usize, splits: usize, sum: &mut [f64], accumulate: bool) {
    for i in 0..n {
        let s: f64 = (0..splits).map(|k| partial[k * n + i]).sum();
        sum[i] = if accumulate { sum[i] + s } else { s };
    }
}

pub fn preprocess(rgba: &[u8]) -> Vec<f64> {
    let hw = rgba.len() / 4;
    let mut out = vec![0.0; 3 * hw];
    for p in 0..hw {
        for c in 0..3 {
            out[c * hw + p] = rgba[p * 4 + 2 - c] as f64 - MEAN_BGR[c] as f64;
        }
    }
    out
}

/// Planar BGR minus mean → RGBA8 (rounded half up, clamped, alpha 255).
pub fn postprocess(img: &[f64]) -> Vec<u8> {
    let hw = img.len() / 3;
    let mut out = vec![255u8; 4 * hw];
    for p in 0..hw {
        for c in 0..3 {
            out[p * 4 + 2 - c] = (img[c * hw + p] + MEAN_BGR[c] as f64 + 0.5).floor().clamp(0.0, 255.0) as u8;
        }
    }
    out
}

/// Every layer's output (relu1_1 … relu5_1, pools included) for `input [3][h][w]`.
pub fn forward(weights: &VggWeights, input: &[f64], w: usize, h: usize, pooling: Pooling) -> Vec<Vec<f64>> {
    let channels: Vec<(usize, usize)> = weights.convs.iter().map(|c| (c.cin, c.cout)).collect();
    let mut acts: Vec<Vec<f64>> = Vec::new();
    for l in layer_shapes(w, h, &channels) {
        let src = acts.last().map(|v| v.as_slice()).unwrap_or(input);
        let (c, lh, lw) = l.input;
        let out = match l.conv {
            Some(k) => {
                let cw = &weights.convs[k];
                conv_forward(src, c, cw.cout, lh, lw, &cw.weight, &cw.bias)
            }
            None => pool_forward(src, c, lh, lw, pooling == Pooling::Avg),
        };
        acts.push(out);
    }
    acts
}

/// Loss terms of an image, exactly as the GPU defines them (content, Σ w_l style_l, tv).
pub struct RefLosses {
    pub content: f64,
    pub style: f64,
    pub tv: f64,
}

/// Loss targets: relu4_2 of the content image and the style Grams.
pub struct RefTargets {
    pub content: Vec<f64>,
    pub grams: Vec<Vec<f64>>,
}

/// Computes the targets from a content image and a style image (`[3][h][w]` each, network space).
pub fn targets(weights: &VggWeights, content: &[f64], cw: usize, ch: usize, style: &[f64], sw: usize, sh: usize, pooling: Pooling) -> RefTargets {
    let channels: Vec<(usize, usize)> = weights.convs.iter().map(|c| (c.cin, c.cout)).collect();
    let cl = layer_shapes(cw, ch, &channels);
    let ca = forward(weights, content, cw, ch, pooling);
    let ci = cl.iter().position(|l| l.name == CONTENT_LAYER).unwrap();
    let sl = layer_shapes(sw, sh, &channels);
    let sa = forward(weights, style, sw, sh, pooling);
    let grams = STYLE_LAYERS
        .iter()
        .map(|name| {
            let i = sl.iter().position(|l| l.name == *name).unwrap();
            let (c, h, w) = sl[i].output;
            gram(&sa[i], c, h * w)
        })
        .collect();
    RefTargets { content: ca[ci].clone(), grams }
}

/// The loss terms of image `x [3][h][w]` against `targets`.
pub fn losses(weights: &VggWeights, x: &[f64], w: usize, h: usize, t: &RefTargets, layer_w: [f32; 5], pooling: Pooling) -> RefLosses {
    let channels: Vec<(usize, usize)> = weights.convs.iter().map(|c| (c.cin, c.cout)).collect();
    let ls = layer_shapes(w, h, &channels);
    let acts = forward(weights, x, w, h, pooling);
    let ci = ls.iter().position(|l| l.name == CONTENT_LAYER).unwrap();
    let content = content_loss(&acts[ci], &t.content).0;
    let mut style = 0.0;
    for (k, name) in STYLE_LAYERS.iter().enumerate() {
        let i = ls.iter().position(|l| l.name == *name).unwrap();
        let (c, lh, lw) = ls[i].output;
        let g = gram(&acts[i], c, lh * lw);
        let d: f64 = g.iter().zip(&t.grams[k]).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / (c * c) as f64;
        style += layer_w[k] as f64 * d;
    }
    let tv = tv_loss(x, 3, h, w).0;
    RefLosses { content, style, tv }
}

// ---------------------------------------------------------------- colour (shaders/color.wgsl)

/// YIQ luminance weights of R, G, B.
pub const LUMA: [f64; 3] = [0.299, 0.587, 0.114];

/// Pixel `i` of a network-space `[3][n]` image as (R, G, B) in 0..255.
pub fn rgb_at(img: &[f64], n: usize, i: usize) -> [f64; 3] {
    [img[2 * n + i] + MEAN_BGR[2] as f64, img[n + i] + MEAN_BGR[1] as f64, img[i] + MEAN_BGR[0] as f64]
}

/// Mean and covariance of the pixels (R, G, B in 0..255) of a network-space `[3][n]` image.
pub fn color_stats(img: &[f64], n: usize) -> ([f64; 3], [[f64; 3]; 3]) {
    let mut mean = [0.0; 3];
    for i in 0..n {
        let p = rgb_at(img, n, i);
        (0..3).for_each(|c| mean[c] += p[c] / n as f64);
    }
    let mut cov = [[0.0; 3]; 3];
    for i in 0..n {
        let p = rgb_at(img, n, i);
        for a in 0..3 {
            for b in 0..3 {
                cov[a][b] += (p[a] - mean[a]) * (p[b] - mean[b]) / n as f64;
            }
        }
    }
    (mean, cov)
}

/// `[Σ R', Σ G', Σ B', Σ R'R', Σ R'G', Σ R'B', Σ G'G', Σ G'B', Σ B'B']` with v' = v − 128: what
/// the rows of `color_moments` add up to.
pub fn color_moments(img: &[f64], n: usize) -> [f64; 9] {
    let mut m = [0.0; 9];
    for i in 0..n {
        let [r, g, b] = rgb_at(img, n, i).map(|v| v - 128.0);
        for (k, v) in [r, g, b, r * r, r * g, r * b, g * g, g * b, b * b].into_iter().enumerate() {
            m[k] += v;
        }
    }
    m
}

/// `sym^power` of a symmetric positive semi-definite 3×3 matrix, eigenvalues clamped to ≥ 1e-2,
/// by the power-series-free route: eigenvalues from the characteristic cubic (trigonometric
/// solution), eigenvectors from cross products of the rows of `sym − λI`.
pub fn sym_power(sym: &[[f64; 3]; 3], power: f64) -> [[f64; 3]; 3] {
    let a = sym;
    let p1 = a[0][1].powi(2) + a[0][2].powi(2) + a[1][2].powi(2);
    let q = (a[0][0] + a[1][1] + a[2][2]) / 3.0;
    let mut vals;
    if p1 < 1e-18 {
        vals = [a[0][0], a[1][1], a[2][2]];
    } else {
        let p2 = (a[0][0] - q).powi(2) + (a[1][1] - q).powi(2) + (a[2][2] - q).powi(2) + 2.0 * p1;
        let p = (p2 / 6.0).sqrt();
        let bm: Vec<Vec<f64>> = (0..3).map(|r| (0..3).map(|c| (a[r][c] - if r == c { q } else { 0.0 }) / p).collect()).collect();
        let det = bm[0][0] * (bm[1][1] * bm[2][2] - bm[1][2] * bm[2][1]) - bm[0][1] * (bm[1][0] * bm[2][2] - bm[1][2] * bm[2][0])
            + bm[0][2] * (bm[1][0] * bm[2][1] - bm[1][1] * bm[2][0]);
        let phi = (det / 2.0).clamp(-1.0, 1.0).acos() / 3.0;
        let l1 = q + 2.0 * p * phi.cos();
        let l3 = q + 2.0 * p * (phi + 2.0 * std::f64::consts::PI / 3.0).cos();
        vals = [l1, 3.0 * q - l1 - l3, l3];
    }
    vals.sort_by(|x, y| y.total_cmp(x));
    // Orthonormal eigenvectors: for each distinct λ the largest cross product of rows of A − λI;
    // repeated eigenvalues fall back to completing an orthonormal basis.
    let mut vecs: Vec<[f64; 3]> = Vec::new();
    for &l in &vals {
        let m: Vec<[f64; 3]> = (0..3).map(|r| [a[r][0] - if r == 0 { l } else { 0.0 }, a[r][1] - if r == 1 { l } else { 0.0 }, a[r][2] - if r == 2 { l } else { 0.0 }]).collect();
        let cross = |u: [f64; 3], v: [f64; 3]| [u[1] * v[2] - u[2] * v[1], u[2] * v[0] - u[0] * v[2], u[0] * v[1] - u[1] * v[0]];
        let norm = |u: [f64; 3]| (u[0] * u[0] + u[1] * u[1] + u[2] * u[2]).sqrt();
        let mut best = [m[0], m[1], m[2]].iter().enumerate().flat_map(|(i, &u)| [m[0], m[1], m[2]].into_iter().skip(i + 1).map(move |v| cross(u, v))).collect::<Vec<_>>();
        // Remove components along the vectors found so far (repeated eigenvalues).
        for b in best.iter_mut() {
            for v in &vecs {
                let d = b[0] * v[0] + b[1] * v[1] + b[2] * v[2];
                (0..3).for_each(|k| b[k] -= d * v[k]);
            }
        }
        best.sort_by(|x, y| norm(*y).total_cmp(&norm(*x)));
        let mut v = best[0];
        if norm(v) < 1e-9 {
            // A repeated eigenvalue: any unit vector orthogonal to those found.
            v = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
                .into_iter()
                .map(|mut e| {
                    for u in &vecs {
                        let d = e[0] * u[0] + e[1] * u[1] + e[2] * u[2];
                        (0..3).for_each(|k| e[k] -= d * u[k]);
                    }
                    e
                })
                .max_by(|x, y| norm(*x).total_cmp(&norm(*y)))
                .expect("three candidates");
        }
        let nv = norm(v);
        vecs.push([v[0] / nv, v[1] / nv, v[2] / nv]);
    }
    let f: Vec<f64> = vals.iter().map(|&l| l.max(1e-2).powf(power)).collect();
    let mut out = [[0.0; 3]; 3];
    for (k, v) in vecs.iter().enumerate() {
        for r in 0..3 {
            for c in 0..3 {
                out[r][c] += f[k] * v[r] * v[c];
            }
        }
    }
    out
}

fn matmul3(a: &[[f64; 3]; 3], b: &[[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let mut o = [[0.0; 3]; 3];
    for r in 0..3 {
        for c in 0..3 {
            o[r][c] = (0..3).map(|k| a[r][k] * b[k][c]).sum();
        }
    }
    o
}

/// The `[24]` affine maps of `color_fit` (painting's, then photo's; each A row-major then b) for
/// photo `content [3][n]` and painting `style [3][m]` (network space); `mode` 1 match, 2 luminance.
pub fn color_fit(mode: u32, content: &[f64], n: usize, style: &[f64], m: usize) -> [f64; 24] {
    let (mc, cc) = color_stats(content, n);
    let (ms, cs) = color_stats(style, m);
    let mut out = [0.0; 24];
    let mut put = |at: usize, a: [[f64; 3]; 3], b: [f64; 3]| {
        for r in 0..3 {
            out[at + 3 * r..at + 3 * r + 3].copy_from_slice(&a[r]);
        }
        out[at + 9..at + 12].copy_from_slice(&b);
    };
    let dot = |u: &[f64; 3], v: &[f64; 3]| u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
    let quad = |cov: &[[f64; 3]; 3]| (0..3).map(|r| LUMA[r] * dot(&cov[r], &LUMA)).sum::<f64>();
    if mode == 1 {
        let a = matmul3(&sym_power(&cc, 0.5), &sym_power(&cs, -0.5));
        let b: [f64; 3] = std::array::from_fn(|r| mc[r] - dot(&a[r], &ms));
        put(0, a, b);
        put(12, [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [0.0; 3]);
    } else {
        let k = (quad(&cc).max(0.0) / quad(&cs).max(1e-2)).sqrt();
        let row = LUMA.map(|w| k * w);
        put(0, [row; 3], [dot(&LUMA, &mc) - k * dot(&LUMA, &ms); 3]);
        put(12, [LUMA; 3], [0.0; 3]);
    }
    out
}

/// `color_apply`: `img [3][n]` (network space) mapped by the affine at `offset` of `affine`,
/// clamped to 0..255 in pixel space.
pub fn color_apply(img: &[f64], n: usize, affine: &[f64], offset: usize) -> Vec<f64> {
    let mut out = vec![0.0; 3 * n];
    for i in 0..n {
        let p = rgb_at(img, n, i);
        let a = &affine[offset..offset + 12];
        let q: [f64; 3] = std::array::from_fn(|r| (a[3 * r] * p[0] + a[3 * r + 1] * p[1] + a[3 * r + 2] * p[2] + a[9 + r]).clamp(0.0, 255.0));
        out[i] = q[2] - MEAN_BGR[0] as f64;
        out[n + i] = q[1] - MEAN_BGR[1] as f64;
        out[2 * n + i] = q[0] - MEAN_BGR[2] as f64;
    }
    out
}

/// `color_display`: RGBA8 of `result`'s luminance with `photo`'s chroma (both `[3][n]`, network
/// space): photo + (Y(result) − Y(photo)), rounded half up, clamped, alpha 255.
pub fn color_display(result: &[f64], photo: &[f64], n: usize) -> Vec<u32> {
    (0..n)
        .map(|i| {
            let (r, p) = (rgb_at(result, n, i), rgb_at(photo, n, i));
            let dy: f64 = (0..3).map(|c| LUMA[c] * (r[c] - p[c])).sum();
            let byte = |v: f64| (v + 0.5).floor().clamp(0.0, 255.0) as u32;
            byte(p[0] + dy) | byte(p[1] + dy) << 8 | byte(p[2] + dy) << 16 | 255 << 24
        })
        .collect()
}

/// `grey_gradient`: every channel of `g [3][n]` set to the sum of the three.
pub fn grey_gradient(g: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![0.0; 3 * n];
    for i in 0..n {
        let s = g[i] + g[n + i] + g[2 * n + i];
        (0..3).for_each(|c| out[c * n + i] = s);
    }
    out
}

/// `gram_blend`: Σ_k weights[k] · grams[k].
pub fn gram_blend(grams: &[Vec<f64>], weights: &[f64]) -> Vec<f64> {
    (0..grams[0].len()).map(|i| grams.iter().zip(weights).map(|(g, w)| w * g[i]).sum()).collect()
}

/// `mask_act` / `mask_add`: `src [c][n] · mask [n]`, added to `dst` when `accumulate`.
pub fn mask_apply(src: &[f64], mask: &[f64], dst: &mut [f64], accumulate: bool) {
    let n = mask.len();
    for (e, d) in dst.iter_mut().enumerate() {
        let v = src[e] * mask[e % n];
        *d = if accumulate { *d + v } else { v };
    }
}

/// Bilinear sample of plane `v [h][w]` at (x, y) clamped to the plane, as `flow.wgsl`'s `tap`.
pub fn bilinear(v: &[f64], w: usize, h: usize, x: f64, y: f64) -> f64 {
    let cx = x.clamp(0.0, (w - 1) as f64);
    let cy = y.clamp(0.0, (h - 1) as f64);
    let (x0, y0) = (cx.floor() as usize, cy.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (cx - x0 as f64, cy - y0 as f64);
    let row = |y: usize| v[y * w + x0] * (1.0 - fx) + v[y * w + x1] * fx;
    row(y0) * (1.0 - fy) + row(y1) * fy
}

/// `flow_gray`: grey 0.114 B + 0.587 G + 0.299 R (0..255) of the network-space `img [3][n]`.
pub fn flow_gray(img: &[f64], n: usize) -> Vec<f64> {
    (0..n).map(|i| [0.114, 0.587, 0.299].iter().enumerate().map(|(c, k)| k * (img[c * n + i] + MEAN_BGR[c] as f64)).sum()).collect()
}

/// `flow_down`: the 2×2 block means of `src [h][w]` → `[⌈h/2⌉][⌈w/2⌉]`.
pub fn flow_down(src: &[f64], w: usize, h: usize) -> Vec<f64> {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = vec![0.0; cw * ch];
    for y in 0..ch {
        for x in 0..cw {
            let (x0, y0) = (2 * x, 2 * y);
            let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
            out[y * cw + x] = 0.25 * (src[y0 * w + x0] + src[y0 * w + x1] + src[y1 * w + x0] + src[y1 * w + x1]);
        }
    }
    out
}

/// `flow_up`: the flow `coarse [2][⌈h/2⌉][⌈w/2⌉]` doubled and upsampled to `[2][h][w]`.
pub fn flow_up(coarse: &[f64], w: usize, h: usize) -> Vec<f64> {
    let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
    let mut out = vec![0.0; 2 * w * h];
    for k in 0..2 {
        let plane = &coarse[k * cw * ch..(k + 1) * cw * ch];
        for y in 0..h {
            for x in 0..w {
                out[k * w * h + y * w + x] = 2.0 * bilinear(plane, cw, ch, (x as f64 + 0.5) * 0.5 - 0.5, (y as f64 + 0.5) * 0.5 - 0.5);
            }
        }
    }
    out
}

/// `flow_lk`: `flow [2][h][w]` plus one Lucas–Kanade step from the grey frames `g0`, `g1 [h][w]`
/// (window radius `r`, regulariser `reg` per window pixel; each component clamped to ±2).
pub fn flow_lk(flow: &[f64], g0: &[f64], g1: &[f64], w: usize, h: usize, r: usize, reg: f64) -> Vec<f64> {
    let n = w * h;
    let at = |x: isize, y: isize| g0[y.clamp(0, h as isize - 1) as usize * w + x.clamp(0, w as isize - 1) as usize];
    let mut out = vec![0.0; 2 * n];
    for y in 0..h as isize {
        for x in 0..w as isize {
            let i = y as usize * w + x as usize;
            let (u, v) = (flow[i], flow[n + i]);
            let (mut a11, mut a12, mut a22, mut b1, mut b2) = (0.0, 0.0, 0.0, 0.0, 0.0);
            let r = r as isize;
            for dy in -r..=r {
                for dx in -r..=r {
                    let qx = (x + dx).clamp(0, w as isize - 1);
                    let qy = (y + dy).clamp(0, h as isize - 1);
                    let ix = 0.5 * (at(qx + 1, qy) - at(qx - 1, qy));
                    let iy = 0.5 * (at(qx, qy + 1) - at(qx, qy - 1));
                    let it = bilinear(g1, w, h, qx as f64 + u, qy as f64 + v) - at(qx, qy);
                    a11 += ix * ix;
                    a12 += ix * iy;
                    a22 += iy * iy;
                    b1 += ix * it;
                    b2 += iy * it;
                }
            }
            let side = (2 * r + 1) as f64;
            a11 += reg * side * side;
            a22 += reg * side * side;
            let det = a11 * a22 - a12 * a12;
            out[i] = u + (-(a22 * b1 - a12 * b2) / det).clamp(-2.0, 2.0);
            out[n + i] = v + (-(a11 * b2 - a12 * b1) / det).clamp(-2.0, 2.0);
        }
    }
    out
}

/// `flow_check`: 1 where `flow [2][h][w]` is consistent with `other` and smooth, else 0.
pub fn flow_check(flow: &[f64], other: &[f64], w: usize, h: usize) -> Vec<f64> {
    let n = w * h;
    let f = |x: isize, y: isize| {
        let j = y.clamp(0, h as isize - 1) as usize * w + x.clamp(0, w as isize - 1) as usize;
        [flow[j], flow[n + j]]
    };
    let sq = |a: [f64; 2]| a[0] * a[0] + a[1] * a[1];
    let mut out = vec![0.0; n];
    for y in 0..h as isize {
        for x in 0..w as isize {
            let fv = f(x, y);
            let (px, py) = (x as f64 + fv[0], y as f64 + fv[1]);
            let inside = px >= 0.0 && py >= 0.0 && px <= (w - 1) as f64 && py <= (h - 1) as f64;
            let g = [bilinear(&other[..n], w, h, px, py), bilinear(&other[n..], w, h, px, py)];
            let consistent = sq([fv[0] + g[0], fv[1] + g[1]]) <= 0.01 * (sq(fv) + sq(g)) + 0.5;
            let (a, b, c, d) = (f(x + 1, y), f(x - 1, y), f(x, y + 1), f(x, y - 1));
            let fx = [0.5 * (a[0] - b[0]), 0.5 * (a[1] - b[1])];
            let fy = [0.5 * (c[0] - d[0]), 0.5 * (c[1] - d[1])];
            let smooth = sq(fx) + sq(fy) <= 0.01 * sq(fv) + 0.002;
            out[y as usize * w + x as usize] = f64::from(u8::from(inside && consistent && smooth));
        }
    }
    out
}

/// `flow_warp`: `image [3][h][w]` sampled at x + `flow`(x), bilinear.
pub fn flow_warp(flow: &[f64], image: &[f64], w: usize, h: usize) -> Vec<f64> {
    let n = w * h;
    let mut out = vec![0.0; 3 * n];
    for i in 0..n {
        let (x, y) = ((i % w) as f64 + flow[i], (i / w) as f64 + flow[n + i]);
        for c in 0..3 {
            out[c * n + i] = bilinear(&image[c * n..(c + 1) * n], w, h, x, y);
        }
    }
    out
}

/// Temporal loss of a video frame: mean over `x [3][hw]` of c·(x − previous)² (`reliable [hw]`:
/// c) and its gradient w.r.t. x.
pub fn temporal_loss(x: &[f64], previous: &[f64], reliable: &[f64]) -> (f64, Vec<f64>) {
    let (n, hw) = (x.len(), reliable.len());
    let d: Vec<f64> = x.iter().zip(previous).map(|(a, b)| a - b).collect();
    let loss = d.iter().enumerate().map(|(i, v)| reliable[i % hw] * v * v).sum::<f64>() / n as f64;
    (loss, d.iter().enumerate().map(|(i, v)| 2.0 * reliable[i % hw] * v / n as f64).collect())
}
