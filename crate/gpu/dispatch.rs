//! A recorded dispatch (pipeline, bind group made once, workgroup grid) and the grid helpers every
//! launcher uses. Plans are lists of dispatches encoded in order every iteration.

/// One recorded dispatch: a pipeline, its bind group (made once) and a workgroup grid.
#[derive(Clone)]
pub struct Dispatch {
    /// What it computes (e.g. `conv3_2 fwd`), for profiling.
    pub label: String,
    /// Kernel name ([`crate::gpu::Kernel::name`]).
    pub kernel: String,
    /// Multiply-accumulates (or comparable operations) it performs, for GFLOP/s.
    pub flops: f64,
    pub(crate) pipeline: wgpu::ComputePipeline,
    pub(crate) bind_group: wgpu::BindGroup,
    pub(crate) groups: [u32; 3],
    pub(crate) recipe: std::rc::Rc<super::Recipe>,
    /// Its uniform buffer (shared by its clones), rewritten by [`Self::set_f32`].
    pub(crate) uniform: wgpu::Buffer,
}

impl Dispatch {
    /// Records the dispatch into a compute pass.
    pub fn encode(&self, pass: &mut wgpu::ComputePass<'_>) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        pass.dispatch_workgroups(self.groups[0], self.groups[1], self.groups[2]);
    }

    /// The workgroup grid.
    pub fn groups(&self) -> [u32; 3] {
        self.groups
    }

    /// Rewrites the f32 at byte `offset` of its uniform (for every clone of it) from the next
    /// submission on: a queue write, nothing recompiled or rebound.
    pub fn set_f32(&self, queue: &wgpu::Queue, offset: usize, value: f32) {
        queue.write_buffer(&self.uniform, offset as u64, bytemuck::bytes_of(&value));
    }

    /// The f32 at byte `offset` of the uniform it was built with.
    pub fn initial_f32(&self, offset: usize) -> f32 {
        bytemuck::pod_read_unaligned(&self.recipe.params[offset..offset + 4])
    }

    /// What it was built from (pipeline key, uniform bytes, bound buffers), to replay it.
    pub fn recipe(&self) -> &super::Recipe {
        &self.recipe
    }
}

/// Largest workgroup count per dispatch dimension allowed by WebGPU.
pub const MAX_GROUPS_PER_DIM: u32 = 65_535;

/// Invocations per workgroup of every element-wise and reducing kernel (`WG` in the WGSL prelude).
pub const WG: u32 = 256;

/// Splits `count` workgroups over x (and y beyond 65,535) so element-wise kernels index with
/// `x + y · num_workgroups.x · WG`. Returns `[x, y, 1]`.
pub fn grid_1d(count: u32) -> [u32; 3] {
    let count = count.max(1);
    if count <= MAX_GROUPS_PER_DIM {
        [count, 1, 1]
    } else {
        let y = count.div_ceil(MAX_GROUPS_PER_DIM);
        [count.div_ceil(y), y, 1]
    }
}

/// Grid for `count` element-wise invocations, [`WG`] per workgroup.
pub fn grid_elems(count: usize) -> [u32; 3] {
    grid_1d((count as u32).div_ceil(WG))
}

/// Grid for tiled kernels: `tiles_n` tiles folded over x and z, `tiles_m` over y.
pub fn grid_tiles(tiles_n: u32, tiles_m: u32) -> [u32; 3] {
    let g = grid_1d(tiles_n);
    [g[0], tiles_m.max(1), g[1]]
}
