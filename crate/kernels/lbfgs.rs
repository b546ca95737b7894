//! L-BFGS on the image, entirely on the GPU (`shaders/lbfgs.wgsl`): per iteration one pass forms
//! the newest correction pair, one invocation checks its curvature, 2m + 1 passes run the two-loop
//! recursion (each fusing the next dot product's partial sums), one pass takes the step, projects
//! onto the pixel range and updates the iterate average. Before them one invocation checks the
//! iterate's loss: a rise of more than 1% or a non-finite loss takes half the step back instead
//! (backtracking), and [`Lbfgs::settle`] ends a scale without a rejected last step. Nothing is read
//! back: the ring of pairs is
//! addressed by slot numbers baked into each dispatch's uniforms, so the dispatches of iteration k
//! depend on k mod m only ([`Lbfgs::iteration`]).

use crate::gpu::Buf;
use crate::gpu::{binding, grid_elems, Bind, Dispatch, Gpu, WG};
use crate::kernels::{window, KernelDef, PipelineSpec, Shader, Uniform};
use wgpu::Buffer;

crate::wgsl_struct! {
    /// Uniform parameters of every L-BFGS pass.
    pub struct LbfgsParams {
        /// 3·h·w.
        pub n: u32,
        pub hw: u32,
        /// Step length (pixel units along the L-BFGS direction; 1 is the quasi-Newton step).
        pub lr: f32,
        /// Iterate-average decay.
        pub decay: f32,
        /// History length.
        pub m: u32,
        /// Pair slot this pass uses.
        pub slot: u32,
        /// Partial-sum region read (`NONE`: none).
        pub rd: u32,
        /// Partial-sum region written (`NONE`: none).
        pub wr: u32,
        /// lbfgs_axpy: 0 first loop, 1 second loop, 2 scaling by H.
        pub mode: u32,
        /// Workgroups of the reducing passes ([`reduce_groups`]).
        pub ng: u32,
        /// 1: lbfgs_step keeps the iterate average in `avg`; 0: averaging is off and `avg` (a
        /// placeholder) is never touched.
        pub average: u32,
        /// lbfgs_step: the element at index 0 of the bound window (0 unwindowed).
        pub base: u32,
        /// The reducing passes' first partial slot (their window's) and how many partial sums
        /// the consumers add (every window's).
        pub g0: u32,
        pub nr: u32,
        /// lbfgs_pair and lbfgs_step: 1 when `keep` holds the kept regions' mask (L-BFGS on y in
        /// x = k·photo + (1 − k)·y); 0: `keep` is a placeholder never read.
        pub keep: u32,
        /// lbfgs_check: the index of the total loss in the losses buffer.
        pub total: u32,
    }
}

/// "No region" in [`LbfgsParams::rd`]/[`LbfgsParams::wr`].
pub const NONE: u32 = u32::MAX;
/// Byte offset in the state buffer of the last accepted total loss (written [`ST_NONE`] when the
/// loss weights change, [`crate::Session::steer`]).
pub const ST_LAST_BYTES: u64 = 4 * ST_LAST as u64;
/// "No accepted total yet" (totals are never negative): the next finite total is accepted.
pub const ST_NONE: f32 = -1.0;
/// Byte offset in the state buffer of the count of steps taken back.
pub const ST_BACKS_BYTES: u64 = 4 * ST_BACKS as u64;
/// Workgroups of the reducing passes (each writes one partial sum per dot product).
const NG: u32 = WG;
/// Floats of the state buffer before ρ and α.
const ST_HEAD: usize = 13;
/// The state's last accepted total and its count of steps taken back in all (see the WGSL header).
const ST_LAST: usize = 6;
const ST_BACKS: usize = 8;

const PAIR: KernelDef = KernelDef {
    shader: Shader::Lbfgs,
    entry: "lbfgs_pair",
    bindings: &[
        binding("p", 0, Bind::Uniform),
        binding("grad", 1, Bind::Read),
        binding("gprev", 2, Bind::Write),
        binding("s_in", 3, Bind::Read),
        binding("y_out", 4, Bind::Write),
        binding("dir", 5, Bind::Write),
        binding("part", 6, Bind::Write),
        binding("st_in", 7, Bind::Read),
        binding("keep", 8, Bind::Read),
    ],
};
const CURVATURE: KernelDef =
    KernelDef { shader: Shader::Lbfgs, entry: "lbfgs_curvature", bindings: &[binding("p", 0, Bind::Uniform), binding("part", 6, Bind::Write), binding("st", 7, Bind::Write)] };
const AXPY: KernelDef = KernelDef {
    shader: Shader::Lbfgs,
    entry: "lbfgs_axpy",
    bindings: &[
        binding("p", 0, Bind::Uniform),
        binding("next", 3, Bind::Read),
        binding("u", 4, Bind::Read),
        binding("dir", 5, Bind::Write),
        binding("part", 6, Bind::Write),
        binding("st", 7, Bind::Write),
    ],
};
const CHECK: KernelDef =
    KernelDef { shader: Shader::Lbfgs, entry: "lbfgs_check", bindings: &[binding("p", 0, Bind::Uniform), binding("st", 7, Bind::Write), binding("losses", 9, Bind::Write)] };
const REVERT: KernelDef = KernelDef {
    shader: Shader::Lbfgs,
    entry: "lbfgs_revert",
    bindings: &[binding("p", 0, Bind::Uniform), binding("x", 2, Bind::Write), binding("s_out", 3, Bind::Write), binding("st_in", 7, Bind::Read), binding("keep", 8, Bind::Read)],
};
const STEP: KernelDef = KernelDef {
    shader: Shader::Lbfgs,
    entry: "lbfgs_step",
    bindings: &[
        binding("p", 0, Bind::Uniform),
        binding("x", 2, Bind::Write),
        binding("s_out", 3, Bind::Write),
        binding("avg", 4, Bind::Write),
        binding("dir_in", 5, Bind::Read),
        binding("st_in", 7, Bind::Read),
        binding("keep", 8, Bind::Read),
    ],
};
/// The entry points of `lbfgs.wgsl`.
pub const KERNELS: &[KernelDef] = &[CHECK, PAIR, CURVATURE, AXPY, STEP, REVERT];

pub(crate) fn uniforms() -> Vec<Uniform> {
    vec![Uniform::of::<LbfgsParams>()]
}

/// The L-BFGS pipelines (f32 only).
pub(crate) fn pipelines() -> Vec<PipelineSpec> {
    KERNELS.iter().map(KernelDef::plain).collect()
}

/// L-BFGS hyper-parameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LbfgsConfig {
    /// Step length (1: the quasi-Newton step; the first iteration moves lr pixels RMS along −g).
    pub lr: f32,
    /// Correction pairs kept (m ≥ 1).
    pub history: usize,
    /// Iterate-average decay (0 = off: no average is kept; `avg` may be a placeholder).
    pub decay: f32,
}

impl LbfgsConfig {
    /// The buffers [`Lbfgs::new`] creates for an image of `hw` pixels, (label, bytes): m pairs
    /// (s, y), the previous gradient, the direction, the partial sums and the scalars.
    pub fn buffers(&self, hw: usize) -> Vec<(Buf, u64)> {
        let (n, m) = (12 * hw as u64, self.history);
        let mut v: Vec<(Buf, u64)> = (0..m).flat_map(|i| [(Buf::LbfgsS(i), n), (Buf::LbfgsY(i), n)]).collect();
        v.push((Buf::LbfgsPreviousGradient, n));
        v.push((Buf::LbfgsDirection, n));
        v.push((Buf::LbfgsPartialSums, 4 * ((3 + 2 * m) as u64) * NG as u64));
        v.push((Buf::LbfgsScalars, 4 * (ST_HEAD + 2 * m) as u64));
        v
    }
}

/// The buffers of [`lbfgs_pair`].
pub struct LbfgsPair<'a> {
    /// `[n]` gradient at the current image.
    pub grad: &'a Buffer,
    /// `[n]` the previous iteration's gradient (replaced by `grad`).
    pub gprev: &'a Buffer,
    /// `[n]` s of the newest pair (read), `[n]` its y (written).
    pub s: &'a Buffer,
    pub y: &'a Buffer,
    /// `[n]` the direction, set to −grad.
    pub dir: &'a Buffer,
    /// `[3 + 2m][NG]` partial sums.
    pub part: &'a Buffer,
    /// The state (read: whether the iterate was rejected).
    pub st: &'a Buffer,
    /// `[hw]` the kept regions' mask k: the gradient is read as `(1 − k)·grad`. `None`: no pixel
    /// is kept.
    pub keep: Option<&'a Buffer>,
}

/// Workgroups of the reducing passes over an image of `hw` pixels: about 4 values per
/// invocation, 1 to NG (fewer workgroups mean fewer partial sums and barriers on small images).
pub fn reduce_groups(hw: usize) -> u32 {
    ((3 * hw) as u32).div_ceil(4 * WG).clamp(1, NG)
}

fn params(cfg: LbfgsConfig, hw: usize) -> LbfgsParams {
    let m = cfg.history as u32;
    LbfgsParams {
        n: (3 * hw) as u32,
        hw: hw as u32,
        lr: cfg.lr,
        decay: cfg.decay,
        m,
        slot: 0,
        rd: NONE,
        wr: NONE,
        mode: 0,
        ng: reduce_groups(hw),
        average: u32::from(cfg.decay > 0.0),
        base: 0,
        g0: 0,
        nr: reduce_groups(hw),
        keep: 0,
        total: crate::kernels::loss::SLOT_TOTALS as u32 + 3,
    }
}

/// One window of the reducing passes: elements `[start, end)`, its partial slots from `g0`, `ng`
/// workgroups.
#[derive(Clone, Copy, Debug)]
struct Win {
    start: usize,
    end: usize,
    g0: u32,
    ng: u32,
}

/// The windows of an image of `hw` pixels on `gpu` (one unless the image is larger than one
/// binding, [`crate::kernels::window`]) and the partial sums they write together (≤ NG).
fn windows(gpu: &Gpu, hw: usize) -> (Vec<Win>, u32) {
    let rs = window::ranges(gpu, 3 * hw);
    if rs.len() == 1 {
        return (vec![Win { start: 0, end: 3 * hw, g0: 0, ng: reduce_groups(hw) }], reduce_groups(hw));
    }
    assert!(rs.len() <= NG as usize, "L-BFGS over {} windows: more than its partial sums hold", rs.len());
    let per = NG / rs.len() as u32;
    let mut g0 = 0;
    let ws = rs
        .into_iter()
        .map(|(start, end)| {
            let ng = ((end - start) as u32).div_ceil(4 * WG).clamp(1, per);
            let w = Win { start, end, g0, ng };
            g0 += ng;
            w
        })
        .collect();
    (ws, g0)
}

impl Win {
    fn params(&self, cfg: LbfgsConfig, hw: usize, nr: u32) -> LbfgsParams {
        LbfgsParams { n: (self.end - self.start) as u32, base: self.start as u32, g0: self.g0, ng: self.ng, nr, ..params(cfg, hw) }
    }
}

/// Forms pair `slot`'s y = grad − gprev, sets gprev = grad and dir = −grad, and writes the partial
/// sums of yᵀs, yᵀy, gradᵀgrad (regions 0..3) and sᵀdir (region `wr`). One dispatch per window.
pub fn lbfgs_pair(gpu: &Gpu, cfg: LbfgsConfig, hw: usize, wr: u32, b: LbfgsPair) -> Vec<Dispatch> {
    let (ws, nr) = windows(gpu, hw);
    let windowed = ws.len() > 1;
    ws.iter()
        .map(|w| {
            let part = |buf| window::part(gpu, buf, (w.start, w.end), windowed);
            let p = LbfgsParams { wr, keep: u32::from(b.keep.is_some()), ..w.params(cfg, hw, nr) };
            // Without kept regions the gradient (read-only here too) stands in for the mask.
            let keep = b.keep.map_or(part(b.grad), |k| k.into());
            let bufs = [
                ("grad", part(b.grad)),
                ("gprev", part(b.gprev)),
                ("s_in", part(b.s)),
                ("y_out", part(b.y)),
                ("dir", part(b.dir)),
                ("part", b.part.into()),
                ("st_in", b.st.into()),
                ("keep", keep),
            ];
            PAIR.plain().get(gpu).dispatch_slices(gpu, "lbfgs pair", &p, &bufs, [w.ng, 1, 1], 8.0 * (w.end - w.start) as f64)
        })
        .collect()
}

/// The backtracking check of the current iterate's total loss (`losses`, `[LOSS_SLOTS]`) against
/// the last accepted one (one invocation; see the WGSL header). A rejected iterate's combined
/// losses are replaced by the accepted one's.
pub fn lbfgs_check(gpu: &Gpu, cfg: LbfgsConfig, hw: usize, st: &Buffer, losses: &Buffer) -> Dispatch {
    CHECK.plain().get(gpu).dispatch(gpu, "lbfgs check", &params(cfg, hw), &[("st", st), ("losses", losses)], [1, 1, 1], 2.0)
}

/// After [`lbfgs_check`]: takes a rejected last step back whole (x ← x − f·s, s ← 0), else
/// nothing. One dispatch per window.
pub fn lbfgs_revert(gpu: &Gpu, cfg: LbfgsConfig, hw: usize, x: &Buffer, s: &Buffer, st: &Buffer, keep: Option<&Buffer>) -> Vec<Dispatch> {
    let (ws, nr) = windows(gpu, hw);
    let windowed = ws.len() > 1;
    ws.iter()
        .map(|w| {
            let part = |buf| window::part(gpu, buf, (w.start, w.end), windowed);
            let keep_b = keep.map_or(st.into(), |k| k.into()); // unread without kept regions
            let bufs = [("x", part(x)), ("s_out", part(s)), ("st_in", st.into()), ("keep", keep_b)];
            let n = w.end - w.start;
            let p = LbfgsParams { keep: u32::from(keep.is_some()), ..w.params(cfg, hw, nr) };
            REVERT.plain().get(gpu).dispatch_slices(gpu, "lbfgs revert", &p, &bufs, grid_elems(n), 2.0 * n as f64)
        })
        .collect()
}

/// The iteration's tick and pair `slot`'s curvature check (one workgroup; see the WGSL header).
pub fn lbfgs_curvature(gpu: &Gpu, cfg: LbfgsConfig, hw: usize, slot: usize, part: &Buffer, st: &Buffer) -> Dispatch {
    let p = LbfgsParams { slot: slot as u32, nr: windows(gpu, hw).1, ..params(cfg, hw) };
    CURVATURE.plain().get(gpu).dispatch(gpu, "lbfgs curvature", &p, &[("part", part), ("st", st)], [1, 1, 1], 3.0 * NG as f64)
}

/// The buffers of [`lbfgs_axpy`].
pub struct LbfgsAxpy<'a> {
    /// `[n]` the direction being built (updated).
    pub dir: &'a Buffer,
    /// `[n]` y (mode 0) or s (mode 1) of the pair; unused by mode 2.
    pub u: &'a Buffer,
    /// `[n]` the vector of the next dot product with the new direction (region `wr`).
    pub next: &'a Buffer,
    pub part: &'a Buffer,
    pub st: &'a Buffer,
}

/// Where one [`lbfgs_axpy`] pass sits in the recursion.
#[derive(Clone, Copy, Debug)]
pub struct AxpyStep {
    /// 0: first loop, 1: second loop, 2: scaling by H.
    pub mode: u32,
    /// The pair slot.
    pub slot: usize,
    /// Partial-sum region of σ (`NONE` for mode 2) and of the next dot product (`NONE`: none).
    pub rd: u32,
    pub wr: u32,
}

/// One step of the two-loop recursion on pair `at.slot`, reading σ from region `at.rd` and
/// writing the partial sums of nextᵀdir to `at.wr`. One dispatch per window.
pub fn lbfgs_axpy(gpu: &Gpu, cfg: LbfgsConfig, hw: usize, at: AxpyStep, b: LbfgsAxpy) -> Vec<Dispatch> {
    let AxpyStep { mode, slot, rd, wr } = at;
    let (ws, nr) = windows(gpu, hw);
    let windowed = ws.len() > 1;
    ws.iter()
        .map(|w| {
            let part = |buf| window::part(gpu, buf, (w.start, w.end), windowed);
            let p = LbfgsParams { mode, slot: slot as u32, rd, wr, ..w.params(cfg, hw, nr) };
            let bufs = [("dir", part(b.dir)), ("u", part(b.u)), ("next", part(b.next)), ("part", b.part.into()), ("st", b.st.into())];
            AXPY.plain().get(gpu).dispatch_slices(gpu, format!("lbfgs loop {mode}"), &p, &bufs, [w.ng, 1, 1], 4.0 * (w.end - w.start) as f64)
        })
        .collect()
}

/// The buffers of [`lbfgs_step`].
pub struct LbfgsStep<'a> {
    /// `[n]` the direction (read).
    pub dir: &'a Buffer,
    /// `[n]` the image (updated, clamped).
    pub x: &'a Buffer,
    /// `[n]` s of the pair slot this step fills.
    pub s: &'a Buffer,
    /// `[n]` the iterate average (updated).
    pub avg: &'a Buffer,
    pub st: &'a Buffer,
    /// `[hw]` the kept regions' mask k: x moves by `(1 − k)·step·dir`. `None`: no pixel is kept.
    pub keep: Option<&'a Buffer>,
}

/// x ← clamp(x + f·step·dir); s ← the displacement (over f); avg ← r·avg + k·x (f = 1 − keep, or
/// 1). One dispatch per window.
pub fn lbfgs_step(gpu: &Gpu, cfg: LbfgsConfig, hw: usize, b: LbfgsStep) -> Vec<Dispatch> {
    let (ws, nr) = windows(gpu, hw);
    let windowed = ws.len() > 1;
    ws.iter()
        .map(|w| {
            let part = |buf| window::part(gpu, buf, (w.start, w.end), windowed);
            let keep = b.keep.map_or(part(b.dir), |k| k.into());
            let bufs = [("dir_in", part(b.dir)), ("x", part(b.x)), ("s_out", part(b.s)), ("avg", part(b.avg)), ("st_in", b.st.into()), ("keep", keep)];
            let n = w.end - w.start;
            let p = LbfgsParams { keep: u32::from(b.keep.is_some()), ..w.params(cfg, hw, nr) };
            STEP.plain().get(gpu).dispatch_slices(gpu, "lbfgs step", &p, &bufs, grid_elems(n), 6.0 * n as f64)
        })
        .collect()
}

/// The image L-BFGS optimises, as its iteration sees it.
#[derive(Clone, Copy)]
pub struct LbfgsImage<'a> {
    /// `[3][h][w]` network space: the current iterate (updated).
    pub x: &'a Buffer,
    /// `[3][h][w]`: the iterate average (with averaging on; else any buffer, untouched).
    pub avg: &'a Buffer,
    /// `[h][w]`: the kept regions' mask, where the run has kept regions.
    pub keep: Option<&'a Buffer>,
    /// `[LOSS_SLOTS]`: the losses of `x`, just reduced (read by the check; restored on a reject).
    pub losses: &'a Buffer,
}

/// The optimiser's GPU state for one image: m pairs, the previous gradient, the direction, the
/// partial sums and the scalars `st` (t, H, average coefficients, step length, the safeguard's last
/// accepted losses and counts of steps taken back, ρ, α; the WGSL header has the layout).
pub struct Lbfgs {
    cfg: LbfgsConfig,
    hw: usize,
    s: Vec<Buffer>,
    y: Vec<Buffer>,
    gprev: Buffer,
    dir: Buffer,
    part: Buffer,
    st: Buffer,
}

impl Lbfgs {
    /// Creates the state for an image of `hw` pixels (zeroed history; H = 1).
    /// Its buffers are taken from `arena` (planned by [`LbfgsConfig::buffers`]).
    pub fn new(gpu: &Gpu, cfg: LbfgsConfig, hw: usize, arena: &mut crate::gpu::Arena) -> Lbfgs {
        assert!(cfg.history >= 1, "L-BFGS needs at least one pair");
        let m = cfg.history;
        let mut st0 = vec![0f32; ST_HEAD + 2 * m];
        st0[1] = 1.0; // H
        st0[2] = 1.0; // decay^0
        st0[ST_LAST] = ST_NONE; // no accepted loss yet
        Lbfgs {
            cfg,
            hw,
            s: (0..m).map(|i| arena.take(Buf::LbfgsS(i))).collect(),
            y: (0..m).map(|i| arena.take(Buf::LbfgsY(i))).collect(),
            gprev: arena.take(Buf::LbfgsPreviousGradient),
            dir: arena.take(Buf::LbfgsDirection),
            part: arena.take(Buf::LbfgsPartialSums),
            st: {
                let st = arena.take(Buf::LbfgsScalars);
                gpu.queue.write_buffer(&st, 0, bytemuck::cast_slice(&st0));
                st
            },
        }
    }

    /// The dispatches of iteration k (they depend on `k mod m` only), given the gradient at the
    /// current image `img.x` and its losses: check, pair, curvature, first loop (m), scaling,
    /// second loop (m), step. With `img.keep`, on y in x = k·photo + (1 − k)·y.
    pub fn iteration(&self, gpu: &Gpu, k: usize, grad: &Buffer, img: LbfgsImage) -> Vec<Dispatch> {
        let LbfgsImage { x, avg, keep, losses } = img;
        let (cfg, hw, m) = (self.cfg, self.hw, self.cfg.history);
        let j = (k + m - 1) % m; // the newest pair: its s is the previous step
        let region = |i: usize| 3 + i as u32;
        let mut ops = vec![lbfgs_check(gpu, cfg, hw, &self.st, losses)];
        let pair = LbfgsPair { grad, gprev: &self.gprev, s: &self.s[j], y: &self.y[j], dir: &self.dir, part: &self.part, st: &self.st, keep };
        ops.extend(lbfgs_pair(gpu, cfg, hw, region(0), pair));
        ops.push(lbfgs_curvature(gpu, cfg, hw, j, &self.part, &self.st));
        let newest_first = |i: usize| (j + m - i) % m;
        for i in 0..m {
            let slot = newest_first(i);
            let (next, wr) = if i + 1 < m { (&self.s[newest_first(i + 1)], region(i + 1)) } else { (&self.s[slot], NONE) };
            let b = LbfgsAxpy { dir: &self.dir, u: &self.y[slot], next, part: &self.part, st: &self.st };
            ops.extend(lbfgs_axpy(gpu, cfg, hw, AxpyStep { mode: 0, slot, rd: region(i), wr }, b));
        }
        let oldest_first = |i: usize| (j + 1 + i) % m;
        let b = LbfgsAxpy { dir: &self.dir, u: &self.y[0], next: &self.y[oldest_first(0)], part: &self.part, st: &self.st };
        ops.extend(lbfgs_axpy(gpu, cfg, hw, AxpyStep { mode: 2, slot: 0, rd: NONE, wr: region(m) }, b));
        for i in 0..m {
            let slot = oldest_first(i);
            let (next, wr) = if i + 1 < m { (&self.y[oldest_first(i + 1)], region(m + i + 1)) } else { (&self.y[slot], NONE) };
            let b = LbfgsAxpy { dir: &self.dir, u: &self.s[slot], next, part: &self.part, st: &self.st };
            ops.extend(lbfgs_axpy(gpu, cfg, hw, AxpyStep { mode: 1, slot, rd: region(m + i), wr }, b));
        }
        ops.extend(lbfgs_step(gpu, cfg, hw, LbfgsStep { dir: &self.dir, x, s: &self.s[(j + 1) % m], avg, st: &self.st, keep }));
        ops
    }

    /// What ends a scale after k iterations, once the losses of the current image `img.x` are computed
    /// (depends on `k mod m` only): the check, and the last step taken back if it is rejected
    /// ([`lbfgs_revert`]).
    pub fn settle(&self, gpu: &Gpu, k: usize, img: LbfgsImage) -> Vec<Dispatch> {
        let LbfgsImage { x, keep, losses, .. } = img;
        let m = self.cfg.history;
        let last = (k + m - 1) % m; // iteration k − 1 wrote s of slot (k − 1) mod m
        let mut ops = vec![lbfgs_check(gpu, self.cfg, self.hw, &self.st, losses)];
        ops.extend(lbfgs_revert(gpu, self.cfg, self.hw, x, &self.s[last], &self.st, keep));
        ops
    }

    /// The state buffer `[13 + 2m]` (see the WGSL header).
    pub fn state(&self) -> &Buffer {
        &self.st
    }

    /// The direction buffer `[n]` (after an iteration: the step direction, −H·g).
    pub fn direction(&self) -> &Buffer {
        &self.dir
    }
}
