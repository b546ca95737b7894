//! Every GPU kernel's host side, one file per `shaders/<family>.wgsl`: its uniform parameter
//! structs (Rust structs whose WGSL twins are generated from them, [`wgsl_struct!`]), its binding
//! table by WGSL name ([`KernelDef`]), its pipeline key and its launchers, which take typed shapes
//! and a struct of named buffers and return a [`Dispatch`] built once per plan and encoded every
//! iteration. Buffer shapes are documented in the header of each WGSL file.
//!
//! Every module is compiled as: the prelude built from Rust constants ([`prelude`]: storage
//! types, `WG`, `MEAN_BGR`, loss slots, the family's uniform structs, the conv direction's I/O
//! types) + `shaders/prelude.wgsl` (shared helpers) + the family's file.

use crate::gpu::{Binding, Gpu, Kernel, PipelineKey, Precision, F16_ACT_STORE, WG};
pub use crate::gpu::{Direction, ModuleKey, Shader};
use std::sync::Arc;

pub mod adam;
pub mod color;
pub mod conv;
pub mod flow;
pub mod gram;
pub mod image;
pub mod lbfgs;
pub mod loss;
pub mod pool;
pub mod tile;
pub mod window;
pub mod winograd;

pub use adam::{adam_step, adam_tick, AdamBuffers, AdamConfig};
pub use conv::{
    conv_backward, conv_backward_by, conv_forward, conv_forward_by, conv_tiling, direct_lanes, winograd_for, ConvBackward, ConvForward, ConvShape, ConvTile, Wino,
    NARROW_MAX_PIXELS, WINOGRAD_MIN_TILES,
};
pub use flow::{flow_check, flow_down, flow_gray, flow_lk, flow_up, flow_warp, Flow, FlowConfig};
pub use gram::{gram_blend, gram_finish, gram_partial, style_diff, style_grad, GramSplit, StyleDiff, StyleGrad, MAX_PAINTINGS};
pub use image::to_act;
// The per-pixel launchers and the large box moves window themselves (over the staging scratch,
// or by byte ranges) when a buffer is larger than one binding; the single-binding dispatches they
// are made of stay in their families (`image::preprocess`, `color::color_apply`, …).
pub use lbfgs::{Lbfgs, LbfgsConfig, LbfgsImage};
pub use loss::{content_loss, reduce_losses, tv_loss, ContentLoss, LossRange, LossWeights, TvLoss, LOSS_SLOTS, MAX_REDUCE_GROUPS};
pub use pool::{pool_backward, pool_forward, PoolBackward, PoolShape, Pooling};
pub use tile::{copy_box, copy_box_act, gram_sum, mask_act, mask_add, zero, BoxMove};
pub use window::{color_apply, color_display, color_moments, copy_boxes, grey_gradient, postprocess, preprocess, zero_all, Staging};

/// VGG mean in B, G, R order (0..255 scale): subtracted from pixels to get network space.
pub const MEAN_BGR: [f32; 3] = [103.939, 116.779, 123.68];

/// A Rust type with a WGSL twin of the same size and alignment in a uniform buffer.
pub trait WgslType {
    /// The WGSL type.
    fn wgsl() -> String;
}

impl WgslType for u32 {
    fn wgsl() -> String {
        "u32".into()
    }
}

impl WgslType for f32 {
    fn wgsl() -> String {
        "f32".into()
    }
}

impl WgslType for [u32; 4] {
    fn wgsl() -> String {
        "vec4<u32>".into()
    }
}

impl WgslType for [f32; 4] {
    fn wgsl() -> String {
        "vec4<f32>".into()
    }
}

impl<T: WgslType, const N: usize> WgslType for [[T; 4]; N]
where
    [T; 4]: WgslType,
{
    fn wgsl() -> String {
        format!("array<{}, {N}>", <[T; 4]>::wgsl())
    }
}

/// A `#[repr(C)]` uniform struct with a generated WGSL twin (see [`wgsl_struct!`]).
pub trait WgslStruct: bytemuck::Pod {
    /// The struct's name in both languages.
    const NAME: &'static str;
    /// (field name, WGSL type, byte offset in the Rust struct) of each field, in order.
    fn fields() -> Vec<(&'static str, String, usize)>;
    /// The WGSL declaration.
    fn wgsl() -> String {
        let fields: String = Self::fields().iter().map(|(n, t, _)| format!("    {n}: {t},\n")).collect();
        format!("struct {} {{\n{fields}}}\n", Self::NAME)
    }
}

/// A uniform struct as both languages see it: its generated WGSL and its Rust layout.
#[derive(Clone, Debug)]
pub struct Uniform {
    pub name: &'static str,
    /// The WGSL declaration (from [`WgslStruct::wgsl`]).
    pub wgsl: String,
    /// `size_of` the Rust struct.
    pub size: usize,
    /// (field name, Rust byte offset), in order.
    pub fields: Vec<(&'static str, usize)>,
}

impl Uniform {
    /// The uniform struct `T`.
    pub fn of<T: WgslStruct>() -> Uniform {
        Uniform { name: T::NAME, wgsl: T::wgsl(), size: std::mem::size_of::<T>(), fields: T::fields().into_iter().map(|(n, _, o)| (n, o)).collect() }
    }
}

/// Declares a `#[repr(C)]`, `Pod` uniform struct and its WGSL twin ([`WgslStruct`]): one source of
/// truth for both languages. Padding fields are written out (`_pad0: u32`); the
/// `uniform_structs_match_their_rust_twins` test checks sizes and offsets through naga.
#[macro_export]
macro_rules! wgsl_struct {
    ($(#[$m:meta])* $vis:vis struct $name:ident { $($(#[$fm:meta])* $fvis:vis $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[repr(C)]
        #[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
        $vis struct $name { $($(#[$fm])* $fvis $field: $ty),* }
        impl $crate::kernels::WgslStruct for $name {
            const NAME: &'static str = stringify!($name);
            fn fields() -> Vec<(&'static str, String, usize)> {
                vec![$((stringify!($field), <$ty as $crate::kernels::WgslType>::wgsl(), std::mem::offset_of!($name, $field))),*]
            }
        }
    };
}

impl Shader {
    /// The family's uniform structs.
    pub fn uniforms(self) -> Vec<Uniform> {
        match self {
            Shader::Conv => conv::uniforms(),
            Shader::Pool => pool::uniforms(),
            Shader::Gram => gram::uniforms(),
            Shader::Loss => loss::uniforms(),
            Shader::Adam => adam::uniforms(),
            Shader::Lbfgs => lbfgs::uniforms(),
            Shader::Image => image::uniforms(),
            Shader::Tile => tile::uniforms(),
            Shader::Color => color::uniforms(),
            Shader::Winograd => winograd::uniforms(),
            Shader::Flow => flow::uniforms(),
        }
    }

    /// The kernels (entry points and binding tables) of the family.
    pub fn kernels(self) -> &'static [KernelDef] {
        match self {
            Shader::Conv => conv::KERNELS,
            Shader::Pool => pool::KERNELS,
            Shader::Gram => gram::KERNELS,
            Shader::Loss => loss::KERNELS,
            Shader::Adam => adam::KERNELS,
            Shader::Lbfgs => lbfgs::KERNELS,
            Shader::Image => image::KERNELS,
            Shader::Tile => tile::KERNELS,
            Shader::Color => color::KERNELS,
            Shader::Winograd => winograd::KERNELS,
            Shader::Flow => flow::KERNELS,
        }
    }
}

/// `shaders/prelude.wgsl`, the helpers shared by every kernel file.
pub const PRELUDE_WGSL: &str = include_str!("../../shaders/prelude.wgsl");

/// The text compiled before a kernel file (see the module docs).
pub fn prelude(key: ModuleKey) -> String {
    let mut s = String::new();
    match key.precision {
        Precision::F32 => {
            s.push_str("// prelude (stylize::kernels::prelude)\nalias act = f32;\nalias wt4 = vec4<f32>;\nconst ACT_LOAD: f32 = 1.0;\nfn to_act(v: f32) -> act { return v; }\n")
        }
        Precision::F16 => s.push_str(&format!(
            "enable f16;\n// prelude (stylize::kernels::prelude)\nalias act = f16;\nalias wt4 = vec4<f16>;\nconst ACT_LOAD: f32 = {:?};\n\
             fn to_act(v: f32) -> act {{ return act(clamp(v * {:?}, -65504.0, 65504.0)); }}\n",
            1.0 / F16_ACT_STORE,
            F16_ACT_STORE
        )),
    }
    s.push_str(&format!("const WG: u32 = {WG}u;\nconst MEAN_BGR = array<f32, 3>({:?}, {:?}, {:?});\n", MEAN_BGR[0], MEAN_BGR[1], MEAN_BGR[2]));
    s.push_str(&loss::slot_consts());
    if let Some(dir) = key.conv {
        s.push_str(conv::io_types(dir));
    }
    s.extend(key.shader.uniforms().iter().map(|u| u.wgsl.as_str()));
    s.push_str(PRELUDE_WGSL);
    s
}

/// The whole WGSL of a module: [`prelude`] + the kernel file.
pub fn module_source(key: ModuleKey) -> String {
    format!("{}{}", prelude(key), key.shader.source())
}

/// One entry point of a kernel file with its bindings by WGSL name.
#[derive(Clone, Copy, Debug)]
pub struct KernelDef {
    pub shader: Shader,
    pub entry: &'static str,
    pub bindings: &'static [Binding],
}

impl KernelDef {
    /// This kernel compiled for `precision` (and `conv` direction) with override `constants`;
    /// `name` names it in labels and timing tables.
    pub fn spec(&self, precision: Precision, conv: Option<Direction>, constants: &[(&'static str, u32)], name: String) -> PipelineSpec {
        let key = PipelineKey { module: ModuleKey { shader: self.shader, precision, conv }, entry: self.entry, constants: constants.to_vec() };
        PipelineSpec { key, name, bindings: self.bindings }
    }

    /// A kernel that touches no activations: f32 prelude, no override constants, named after its
    /// entry point.
    pub fn plain(&self) -> PipelineSpec {
        self.spec(Precision::F32, None, &[], self.entry.to_string())
    }
}

/// One pipeline variant the engine can use: its cache key, name and binding table.
#[derive(Clone, Debug)]
pub struct PipelineSpec {
    pub key: PipelineKey,
    pub name: String,
    pub bindings: &'static [Binding],
}

impl PipelineSpec {
    /// The compiled pipeline, from the device's cache.
    pub fn get(self, gpu: &Gpu) -> Arc<Kernel> {
        let module = self.key.module;
        gpu.kernels.get(self.key, self.name, self.bindings, || module_source(module))
    }
}

/// Every pipeline variant the engine can compile (every kernel, tile, lane count, direction and
/// pooling, in f32 and, `with_f16`, f16 storage): what the Tint test compiles.
pub fn all_pipelines(with_f16: bool) -> Vec<PipelineSpec> {
    let mut v = Vec::new();
    for precision in if with_f16 { vec![Precision::F32, Precision::F16] } else { vec![Precision::F32] } {
        v.extend(conv::pipelines(precision));
        v.extend(winograd::pipelines(precision));
        v.extend(pool::pipelines(precision));
        v.extend(gram::pipelines(precision));
        v.extend(loss::pipelines(precision));
        v.extend(image::pipelines(precision));
        v.extend(tile::pipelines(precision));
        v.extend(color::pipelines(precision));
    }
    v.extend(adam::pipelines());
    v.extend(lbfgs::pipelines());
    v.extend(flow::pipelines());
    v
}
