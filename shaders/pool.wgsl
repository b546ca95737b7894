// pool.wgsl — 2×2 stride-2 pooling (max or average), forward and backward.
//
// Output size is floor(h/2) × floor(w/2); a trailing odd row/column is dropped (as in VGG/Keras).
// AVERAGE (override) selects average pooling; otherwise max pooling (first maximum wins on ties,
// scanning (0,0), (0,1), (1,0), (1,1)).
//
// Activations are `act` (f32 or f16, from the prelude `stylize::kernels::prelude`); max and
// average commute with its storage scale, so values are compared/averaged as stored. Gradients
// are f32.
//
// Bindings:
//   0 p     : uniform PoolParams (c, h, w, relu_mask; generated from crate/kernels/pool.rs)
//   pool_forward:
//     1 inp  : array<act> [c][h][w]           input activation
//     2 outp : array<act> [c][h/2][w/2]       written in full (the same slot is `din` below)
//   pool_backward (one invocation per INPUT element, so every element of din is written, the dropped
//   odd row/column with 0); with p.relu_mask the result is multiplied by [inp > 0] (the gradient
//   leaves already through the ReLU whose output was pooled, as conv.wgsl's backward expects):
//     1 inp  : array<act> [c][h][w]           forward input (to find the max)
//     2 din  : array<f32> [c][h][w]           gradient w.r.t. the input (output of this pass)
//     3 dout : array<f32> [c][h/2][w/2]       gradient w.r.t. the pooled output
//
// Dispatch: WG-wide workgroups, 2-D grid; linear index = x + y · (num_workgroups.x · WG).

override AVERAGE: bool = false;

@group(0) @binding(0) var<uniform> p: PoolParams;
@group(0) @binding(1) var<storage, read> inp: array<act>;

fn linear_index(gid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return gid.x + gid.y * nwg.x * WG;
}

// Value and position (0..3) of the winning element in window (c, oy, ox).
fn window_max(c: u32, oy: u32, ox: u32) -> vec2<f32> {
    let base = c * p.h * p.w + (2u * oy) * p.w + 2u * ox;
    var best = f32(inp[base]);
    var pos = 0u;
    let v1 = f32(inp[base + 1u]);
    if (v1 > best) { best = v1; pos = 1u; }
    let v2 = f32(inp[base + p.w]);
    if (v2 > best) { best = v2; pos = 2u; }
    let v3 = f32(inp[base + p.w + 1u]);
    if (v3 > best) { best = v3; pos = 3u; }
    return vec2<f32>(best, f32(pos));
}

@group(0) @binding(2) var<storage, read_write> outp: array<act>;
@group(0) @binding(2) var<storage, read_write> din: array<f32>;

@compute @workgroup_size(WG)
fn pool_forward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let oh = p.h / 2u;
    let ow = p.w / 2u;
    let i = linear_index(gid, nwg);
    if (i >= p.c * oh * ow) {
        return;
    }
    let c = i / (oh * ow);
    let r = i - c * oh * ow;
    let oy = r / ow;
    let ox = r - oy * ow;
    if (AVERAGE) {
        let base = c * p.h * p.w + (2u * oy) * p.w + 2u * ox;
        outp[i] = act(0.25 * (f32(inp[base]) + f32(inp[base + 1u]) + f32(inp[base + p.w]) + f32(inp[base + p.w + 1u])));
    } else {
        outp[i] = act(window_max(c, oy, ox).x);
    }
}

@group(0) @binding(3) var<storage, read> dout: array<f32>;

@compute @workgroup_size(WG)
fn pool_backward(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let oh = p.h / 2u;
    let ow = p.w / 2u;
    let i = linear_index(gid, nwg);
    if (i >= p.c * p.h * p.w) {
        return;
    }
    let c = i / (p.h * p.w);
    let r = i - c * p.h * p.w;
    let y = r / p.w;
    let x = r - y * p.w;
    let oy = y / 2u;
    let ox = x / 2u;
    var g = 0.0;
    if (oy < oh && ox < ow && (p.relu_mask == 0u || f32(inp[i]) > 0.0)) {
        let d = dout[c * oh * ow + oy * ow + ox];
        if (AVERAGE) {
            g = 0.25 * d;
        } else {
            let pos = u32(window_max(c, oy, ox).y);
            if (pos == (y - 2u * oy) * 2u + (x - 2u * ox)) {
                g = d;
            }
        }
    }
    din[i] = g;
}
