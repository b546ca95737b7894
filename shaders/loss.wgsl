// loss.wgsl — content, total-variation and temporal losses with their gradients, and the loss
// reductions.
//
// Loss values are reduced in two stages without float atomics: each loss kernel writes one partial
// sum per workgroup into loss_part[loss_offset + linear workgroup index]; `reduce_losses` (one
// workgroup, one dispatch per iteration) sums each range of partials into its slot of `losses`
// and combines the slots.
//
// losses layout (f32 × 16; the slot numbers come from the prelude, defined in
// crate/kernels/loss.rs): SLOT_CONTENT (0) content, SLOT_STYLE + l (1..5) style per layer
// (relu1_1..relu5_1), SLOT_TV (6) tv, SLOT_TEMPORAL (7) temporal — raw means; SLOT_TOTALS + 0..4
// (8..12) content, style = Σ_l w_l·style_l, tv, total = α·content + β·style + τ·tv (+ γ·temporal
// when rl.temporal = 1), temporal (0 when rl.temporal = 0).
//
// Entry points and bindings:
//   content_loss — d = F − P; grad += coef·d·[F > 0] (coef = α·2/n; F is a ReLU output and the
//     gradient leaves through that ReLU, as conv.wgsl's backward expects); Σ d² per workgroup
//     0 p: ElemParams  1 feat: array<act> [n]  2 grad: [n] (accumulated)  3 target_feat: array<act> [n]
//     4 loss_part        (`act`: f32 or f16 × 1/32 activations, from the prelude)
//   tv_loss — on the pre-processed image x [c][h][w]:
//     loss = Σ (x[y+1,x]−x[y,x])² + (x[y,x+1]−x[y,x])² (per workgroup partials),
//     grad += coef·∂loss/∂x (coef = τ·2/(3·h·w); ∂ of the sum above / 2)
//     0 p: ElemParams  1 src: [c][h][w]  2 grad: [c][h][w] (accumulated)  4 loss_part
//     Over p.n elements: p.rows rows of each channel from row p.row0, element i at index
//     p.first + i of src and grad (whole image: rows = h, row0 = first = 0; an image larger
//     than one binding: one channel's band of rows, bound with a row of halo each side)
//   temporal_loss — on the pre-processed image x [3][h][w] against the previous frame's result
//     warped into this one, previous [3][h][w], where it is reliable, reliable [h][w] (c ∈ [0, 1]):
//     loss = Σ c·(x − previous)² (per workgroup partials), grad += coef·c·(x − previous)
//     (coef = γ·2/(3·h·w))
//     0 p: ElemParams (n = 3·h·w, h, w)  1 src: [3][h][w]  2 grad: [3][h][w] (accumulated)
//     4 loss_part  5 previous: [3][h][w]  6 reliable: [h][w]
//   reduce_losses — one workgroup, dispatch (1,1,1): for each of rl.n_ranges ranges (≤ 8),
//     losses[slot] = scale · Σ loss_part[offset .. offset+count]; then the SLOT_TOTALS slots
//     (rl.layer_w[0] = w_1..w_4, rl.layer_w[1].x = w_5)
//     0 rl: ReduceLossParams  1 part_in: [..]  2 losses: [16]
// content_loss, tv_loss and temporal_loss run a grid-stride loop over min(⌈n/WG⌉, 64) workgroups (x only), so
// their reductions stay few and cheap; each writes one partial per workgroup.
// ElemParams {n, h, w, loss_offset, coef, rows, row0, first} and ReduceLossParams {ranges: (offset, count, slot,
// bitcast<u32>(scale)) × 8, alpha, beta, tau, n_ranges, layer_w, gamma, temporal} are generated from the Rust
// structs in crate/kernels/loss.rs; workgroup_sum comes from shaders/prelude.wgsl.

@group(0) @binding(0) var<uniform> p: ElemParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(1) var<storage, read> feat: array<act>;
@group(0) @binding(3) var<storage, read> target_feat: array<act>;
@group(0) @binding(4) var<storage, read_write> loss_part: array<f32>;
@group(0) @binding(5) var<storage, read> previous: array<f32>;
@group(0) @binding(6) var<storage, read> reliable: array<f32>;

@compute @workgroup_size(WG)
fn content_loss(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    var sq = 0.0;
    for (var i = wid.x * WG + li; i < p.n; i += nwg.x * WG) {
        let f = f32(feat[i]);
        let d = (f - f32(target_feat[i])) * ACT_LOAD;
        grad[i] += select(0.0, p.coef * d, f > 0.0);
        sq += d * d;
    }
    let total = workgroup_sum(li, sq);
    if (li == 0u) {
        loss_part[p.loss_offset + wid.x] = total;
    }
}

@compute @workgroup_size(WG)
fn tv_loss(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    var sq = 0.0;
    let plane = p.rows * p.w;
    for (var i = wid.x * WG + li; i < p.n; i += nwg.x * WG) {
        let r = i % plane;
        let y = p.row0 + r / p.w;
        let x = r % p.w;
        let j = p.first + i;
        let v = src[j];
        var g = 0.0;
        if (y + 1u < p.h) {
            let d = src[j + p.w] - v;
            sq += d * d;
            g -= d;
        }
        if (x + 1u < p.w) {
            let d = src[j + 1u] - v;
            sq += d * d;
            g -= d;
        }
        if (y > 0u) {
            g += v - src[j - p.w];
        }
        if (x > 0u) {
            g += v - src[j - 1u];
        }
        grad[j] += p.coef * g;
    }
    let total = workgroup_sum(li, sq);
    if (li == 0u) {
        loss_part[p.loss_offset + wid.x] = total;
    }
}

@compute @workgroup_size(WG)
fn temporal_loss(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    var sq = 0.0;
    let hw = p.h * p.w;
    for (var i = wid.x * WG + li; i < p.n; i += nwg.x * WG) {
        let c = reliable[i % hw];
        let d = src[i] - previous[i];
        grad[i] += p.coef * c * d;
        sq += c * d * d;
    }
    let total = workgroup_sum(li, sq);
    if (li == 0u) {
        loss_part[p.loss_offset + wid.x] = total;
    }
}

@group(0) @binding(0) var<uniform> rl: ReduceLossParams;
@group(0) @binding(1) var<storage, read> part_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> losses: array<f32>;

@compute @workgroup_size(WG)
fn reduce_losses(@builtin(local_invocation_index) li: u32) {
    for (var k = 0u; k < rl.n_ranges; k++) {
        let range = rl.ranges[k];
        var s = 0.0;
        for (var i = li; i < range.y; i += WG) {
            s += part_in[range.x + i];
        }
        let total = workgroup_sum(li, s);
        if (li == 0u) {
            losses[range.z] = total * bitcast<f32>(range.w);
        }
    }
    if (li == 0u) {
        let content = losses[SLOT_CONTENT];
        let lw = rl.layer_w[0];
        let style = lw.x * losses[SLOT_STYLE] + lw.y * losses[SLOT_STYLE + 1u] + lw.z * losses[SLOT_STYLE + 2u]
            + lw.w * losses[SLOT_STYLE + 3u] + rl.layer_w[1].x * losses[SLOT_STYLE + 4u];
        let tv = losses[SLOT_TV];
        let temporal = select(0.0, losses[SLOT_TEMPORAL], rl.temporal == 1u);
        losses[SLOT_TOTALS] = content;
        losses[SLOT_TOTALS + 1u] = style;
        losses[SLOT_TOTALS + 2u] = tv;
        losses[SLOT_TOTALS + 3u] = rl.alpha * content + rl.beta * style + rl.tau * tv + rl.gamma * temporal;
        losses[SLOT_TOTALS + 4u] = temporal;
    }
}
