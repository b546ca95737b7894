//! The allocator a memory plan fills ([`crate::plan`]): what each buffer is (its size, lifetime and
//! whether its kernels bind it in windows), what a plan must fit on a device ([`Budget`]), and the
//! [`Arena`] that creates a plan's buffers and hands them out by name, releasing the targets'
//! buffers before the iteration's are created. Below the kernels and the network, so both take
//! their buffers from it without looking up.

use super::names::Buf;
use super::Gpu;
use std::collections::HashMap;
use wgpu::Buffer;

/// How long a buffer lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Life {
    /// As long as the session.
    Session,
    /// While the targets are computed (uploads, the painting's network); released before the
    /// iteration's buffers are created.
    Targets,
    /// From the iteration on (gradients, the optimiser's state): created once the targets'
    /// buffers are released, so the two never take memory at once.
    Iteration,
}

/// One buffer of a plan.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct BufferSpec {
    /// What the plan and the code that binds it call it.
    #[serde(skip)]
    pub key: Buf,
    /// Its name for people (`key` printed).
    pub name: String,
    pub bytes: u64,
    pub life: Life,
    /// Whether its kernels bind it in windows ([`crate::kernels::window`]), so it may be larger
    /// than one binding (up to the device's buffer limit).
    pub windowed: bool,
}

/// What a plan must fit: the device's per-buffer limit and a total budget.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    /// The largest buffer the device binds whole (bytes).
    pub max_binding: u64,
    /// The largest buffer the device creates (bytes): the windowed whole-image buffers' limit.
    pub max_buffer: u64,
    /// The most GPU memory the session may use with the weights (bytes; `u64::MAX`: no budget).
    pub total: u64,
    /// Bytes of the conv weights, already resident (counted against `total`).
    pub weights: u64,
}

impl Budget {
    /// The budget of `total` bytes (`u64::MAX`: none) on `gpu`, whose weights take `weights`.
    pub fn for_device(gpu: &Gpu, total: u64, weights: u64) -> Budget {
        Budget { max_binding: gpu.max_storage_bytes(), max_buffer: gpu.max_buffer_bytes(), total, weights }
    }
}

/// The two `[3][px]` scratch buffers of staged per-pixel kernels.
#[derive(Clone)]
pub struct Staging {
    pub a: Buffer,
    pub b: Buffer,
    /// Pixels per window.
    pub px: usize,
}

impl Staging {
    /// Pixel windows `[p0, p0 + len)` of an image of `hw` pixels.
    pub fn windows(&self, hw: usize) -> Vec<(usize, usize)> {
        (0..hw).step_by(self.px).map(|p0| (p0, self.px.min(hw - p0))).collect()
    }
}

/// The buffers of a [`crate::plan::Plan`], created, handed out by name to the code that binds them.
pub struct Arena {
    buffers: HashMap<Buf, (wgpu::Buffer, Life)>,
    /// The iteration's buffers, created by [`Self::begin_iteration`].
    later: Vec<BufferSpec>,
    /// The targets' buffers handed out, released by [`Self::begin_iteration`].
    targets: Vec<wgpu::Buffer>,
    /// Session buffers every network binds ([`Self::shared`]), once taken.
    shared: HashMap<Buf, wgpu::Buffer>,
    /// Every session and iteration buffer handed out: what the session holds ([`Self::into_held`]).
    held: Vec<wgpu::Buffer>,
}

impl Arena {
    /// An arena of created `buffers` (by name, with their lifetime) and the iteration's, `later`
    /// (created by [`Self::begin_iteration`]): what [`crate::plan::Plan::allocate`] makes.
    pub fn new(buffers: HashMap<Buf, (wgpu::Buffer, Life)>, later: Vec<BufferSpec>) -> Arena {
        Arena { buffers, later, targets: Vec::new(), shared: HashMap::new(), held: Vec::new() }
    }

    /// The planned buffer `key`. Panics when the plan has no such buffer — a name both sides
    /// know but one the plan left out for these settings, or an index past what it planned — or
    /// it is the iteration's, before [`Self::begin_iteration`] (bugs the session tests catch).
    pub fn take(&mut self, key: Buf) -> wgpu::Buffer {
        let (buffer, life) = self.buffers.remove(&key).unwrap_or_else(|| panic!("buffer \"{key}\" is not in the memory plan (or not created yet)"));
        match life {
            Life::Targets => self.targets.push(buffer.clone()),
            _ => self.held.push(buffer.clone()),
        }
        buffer
    }

    /// The planned buffer `key` ([`Self::take`]) holding `data` (a queue write).
    pub fn upload(&mut self, gpu: &Gpu, key: Buf, data: &[u8]) -> wgpu::Buffer {
        let buffer = self.take(key);
        gpu.queue.write_buffer(&buffer, 0, data);
        buffer
    }

    /// The planned buffer `key` that several users bind (every network's Winograd scratch: they
    /// run one after another): taken on the first call, the same buffer again on later ones.
    pub fn shared(&mut self, key: Buf) -> wgpu::Buffer {
        if let Some(b) = self.shared.get(&key) {
            return b.clone();
        }
        let b = self.take(key.clone());
        self.shared.insert(key, b.clone());
        b
    }

    /// The targets are computed (and submitted): releases their buffers ([`Gpu::release`]) and
    /// creates the iteration's, so the two never take memory at once. Panics if a targets
    /// buffer was never taken (the plan lists what nothing uses).
    pub fn begin_iteration(&mut self, gpu: &Gpu) {
        let untaken: Vec<String> = self.buffers.iter().filter(|(_, (_, l))| *l == Life::Targets).map(|(n, _)| n.to_string()).collect();
        assert!(untaken.is_empty(), "targets buffers never used: {untaken:?}");
        for b in self.targets.drain(..) {
            gpu.release(&b);
        }
        for b in self.later.drain(..) {
            let buffer = gpu.storage(&b.name, b.bytes);
            self.buffers.insert(b.key, (buffer, b.life));
        }
    }

    /// The staging buffers of the windowed per-pixel kernels, when planned ([`crate::plan::Plan::staged`]).
    pub fn staging(&mut self) -> Option<Staging> {
        if !self.buffers.contains_key(&Buf::StagingA) {
            return None;
        }
        let (a, b) = (self.take(Buf::StagingA), self.take(Buf::StagingB));
        Some(Staging { px: (a.size() / 12) as usize, a, b })
    }

    /// Every session and iteration buffer handed out, for the session to hold as long as its
    /// dispatches bind them.
    pub fn into_held(self) -> Vec<wgpu::Buffer> {
        self.held
    }

    /// Names of planned buffers not taken yet (the iteration's included, created or not).
    pub fn left(&self) -> Vec<String> {
        let mut v: Vec<String> = self.buffers.keys().map(Buf::to_string).chain(self.later.iter().map(|b| b.name.clone())).collect();
        v.sort();
        v
    }
}
