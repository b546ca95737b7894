// loss.wgsl — content and total-variation losses with their gradients, and the loss reductions.
//
// Loss values are reduced in two stages without float atomics: each loss kernel writes one partial
// sum per workgroup into loss_part[loss_offset + linear workgroup index]; `reduce_losses` (one
// workgroup, one dispatch per iteration) sums each range of partials into its slot of `losses`
// and combines the slots.
//
// losses layout (f32 × 16): 0 content, 1..5 style per layer (relu1_1..relu5_1), 6 tv — raw means;
//   8 content, 9 style = Σ_l w_l·style_l, 10 tv, 11 total = α·content + β·style + τ·tv.
//
// Entry points and bindings:
//   content_loss — d = F − P; grad += coef·d·[F > 0] (coef = α·2/n; F is a ReLU output and the
//     gradient leaves through that ReLU, as conv.wgsl's backward expects); Σ d² per workgroup
//     0 p: ElemParams  1 feat: array<act> [n]  2 grad: [n] (accumulated)  3 target: array<act> [n]
//     4 loss_part        (`act`: f32 or f16 × 1/32 activations, from the precision prelude)
//   tv_loss — on the pre-processed image x [c][h][w]:
//     loss = Σ (x[y+1,x]−x[y,x])² + (x[y,x+1]−x[y,x])² (per workgroup partials),
//     grad += coef·∂loss/∂x (coef = τ·2/(3·h·w); ∂ of the sum above / 2)
//     0 p: ElemParams  1 img: [c][h][w]  2 grad: [c][h][w] (accumulated)  4 loss_part
//   reduce_losses — one workgroup, dispatch (1,1,1): for each of rl.n_ranges ranges (≤ 7),
//     losses[slot] = scale · Σ loss_part[offset .. offset+count]; then slots 8..11 from 0..6
//     (content, Σ_l w_l·style_l, tv, α·content + β·style + τ·tv)
//     0 rl: ReduceLossParams  1 part_in: [..]  2 losses: [16]
// content_loss and tv_loss run a grid-stride loop over min(⌈n/256⌉, 64) workgroups (x only), so
// their reductions stay few and cheap; each writes one partial per workgroup.

struct ElemParams {
    n: u32,          // element count (content: C·h·w; tv: c·h·w)
    h: u32,
    w: u32,
    loss_offset: u32,
    coef: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct ReduceLossParams {
    ranges: array<vec4<u32>, 7>, // (offset, count, slot, bitcast<u32>(scale))
    alpha: f32,
    beta: f32,
    tau: f32,
    n_ranges: u32,
    layer_w: vec4<f32>,          // w_1..w_4
    layer_w5: vec4<f32>,         // x = w_5
}

var<workgroup> red: array<f32, 256>;

fn workgroup_sum(li: u32, v: f32) -> f32 {
    red[li] = v;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride >>= 1u) {
        if (li < stride) {
            red[li] += red[li + stride];
        }
        workgroupBarrier();
    }
    return red[0];
}

@group(0) @binding(0) var<uniform> p: ElemParams;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(1) var<storage, read> feat: array<act>;
@group(0) @binding(3) var<storage, read> target_feat: array<act>;
@group(0) @binding(4) var<storage, read_write> loss_part: array<f32>;

@compute @workgroup_size(256)
fn content_loss(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    var sq = 0.0;
    for (var i = wid.x * 256u + li; i < p.n; i += nwg.x * 256u) {
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

@compute @workgroup_size(256)
fn tv_loss(
    @builtin(local_invocation_index) li: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
) {
    var sq = 0.0;
    let hw = p.h * p.w;
    for (var i = wid.x * 256u + li; i < p.n; i += nwg.x * 256u) {
        let r = i % hw;
        let y = r / p.w;
        let x = r - y * p.w;
        let v = src[i];
        var g = 0.0;
        if (y + 1u < p.h) {
            let d = src[i + p.w] - v;
            sq += d * d;
            g -= d;
        }
        if (x + 1u < p.w) {
            let d = src[i + 1u] - v;
            sq += d * d;
            g -= d;
        }
        if (y > 0u) {
            g += v - src[i - p.w];
        }
        if (x > 0u) {
            g += v - src[i - 1u];
        }
        grad[i] += p.coef * g;
    }
    let total = workgroup_sum(li, sq);
    if (li == 0u) {
        loss_part[p.loss_offset + wid.x] = total;
    }
}

@group(0) @binding(0) var<uniform> rl: ReduceLossParams;
@group(0) @binding(1) var<storage, read> part_in: array<f32>;
@group(0) @binding(2) var<storage, read_write> losses: array<f32>;

@compute @workgroup_size(256)
fn reduce_losses(@builtin(local_invocation_index) li: u32) {
    for (var k = 0u; k < rl.n_ranges; k++) {
        let range = rl.ranges[k];
        var s = 0.0;
        for (var i = li; i < range.y; i += 256u) {
            s += part_in[range.x + i];
        }
        let total = workgroup_sum(li, s);
        if (li == 0u) {
            losses[range.z] = total * bitcast<f32>(range.w);
        }
        workgroupBarrier(); // every invocation has read red[0] before the next range reuses it
    }
    if (li == 0u) {
        let content = losses[0];
        let style = rl.layer_w.x * losses[1] + rl.layer_w.y * losses[2] + rl.layer_w.z * losses[3]
            + rl.layer_w.w * losses[4] + rl.layer_w5.x * losses[5];
        let tv = losses[6];
        losses[8] = content;
        losses[9] = style;
        losses[10] = tv;
        losses[11] = rl.alpha * content + rl.beta * style + rl.tau * tv;
    }
}
