//! The GPU layer: the device (`device`), the one readback path (`readback`), recorded dispatches
//! and grids (`dispatch`), the pipeline cache keyed by typed keys (`cache`) and the per-device
//! implementation choices (`precision`). Nothing kernel-specific lives here: each kernel's host
//! side is in `crate::kernels`.

pub mod arena;
mod cache;
mod device;
mod dispatch;
pub mod names;
mod precision;
mod readback;

pub use arena::{Arena, Budget};
pub use cache::{binding, Bind, Binding, Direction, Kernel, Kernels, ModuleKey, PipelineKey, Recipe, Shader, Slice};
pub use device::{Gpu, GpuOptions};
pub use dispatch::{grid_1d, grid_elems, grid_tiles, Dispatch, MAX_GROUPS_PER_DIM, WG};
pub use names::{Buf, Net};
pub use precision::{parse_conv, ConvAlgo, ConvPath, Precision, Variant, WinoTile, F16_ACT_STORE};
