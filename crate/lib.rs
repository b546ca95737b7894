//! stylize — neural style transfer (Gatys, Ecker & Bethge, CVPR 2016) on the GPU through WebGPU.
//!
//! Every GPU kernel is hand-written WGSL in `shaders/`; `kernels` holds each kernel's host side
//! (one file per WGSL family), `gpu` the device, readback and pipeline cache, `vgg` plans the
//! network once per image size, and `session` runs the optimisation. The same code
//! runs natively (wgpu on Vulkan/Metal/DX12) and in the browser (WebGPU). See ARCHITECTURE.md.

pub mod bench;
pub mod error;
pub mod gpu;
pub mod image_io;
pub mod kernels;
pub mod masks;
pub mod plan;
pub mod preview;
pub mod record;
pub mod resample;
pub mod settings;
pub mod tiles;
pub mod weights;

pub use error::{Error, Result};
pub use gpu::{ConvPath, Gpu, GpuOptions, Precision, Variant};
pub use kernels::ConvTile;
pub use weights::{ConvWeights, VggWeights};
pub mod session;
pub mod vgg;

pub use session::{Colors, Init, Losses, Optimizer, Run, Scale, Session, Settings, TileMode};
pub use vgg::{Engine, Pooling};
pub mod reference;
/// Video frames stylised in turn with optical flow and a temporal loss.
pub mod video;

#[cfg(target_arch = "wasm32")]
pub mod web;
