//! The VGG19 network as a static graph: layer shapes for an image size, weights on the GPU, and
//! the forward pass as a list of dispatches built once per size (its buffers come from the
//! session's memory plan, [`crate::plan`]).

use crate::error::{Error, Result};
use crate::gpu::{Arena, Budget, Buf, Net};
use crate::gpu::{Dispatch, Gpu, Precision, Variant};
use crate::kernels::winograd::{scratch_floats, transform_weights, wino_len, winograd_tile, WinoScratch};
pub use crate::kernels::Pooling;
use crate::kernels::{self, ConvBackward, ConvForward, ConvShape, PoolBackward, PoolShape};
use crate::weights::gemm_len;
use crate::weights::VggWeights;
use std::rc::Rc;

/// Style layers (ReLU outputs of conv1_1, conv2_1, conv3_1, conv4_1, conv5_1).
pub const STYLE_LAYERS: [&str; 5] = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"];
/// Content layer.
pub const CONTENT_LAYER: &str = "relu4_2";

/// One layer of the truncated network (conv1_1 … relu5_1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerShape {
    /// `relu1_1` for a conv+ReLU, `pool1` for a pooling layer.
    pub name: String,
    /// Index into [`VggWeights::convs`] for a conv layer, `None` for pooling.
    pub conv: Option<usize>,
    /// Input channels, height, width.
    pub input: (usize, usize, usize),
    /// Output channels, height, width.
    pub output: (usize, usize, usize),
}

impl LayerShape {
    /// Elements of the output.
    pub fn out_len(&self) -> usize {
        self.output.0 * self.output.1 * self.output.2
    }
}

/// Layer shapes for an input of `width`×`height`, given each conv's channel counts.
pub fn layer_shapes(width: usize, height: usize, channels: &[(usize, usize)]) -> Vec<LayerShape> {
    let mut layers = Vec::new();
    let (mut h, mut w) = (height, width);
    let mut c = 3;
    let mut conv = 0;
    for (block, convs) in [2usize, 2, 4, 4, 1].iter().enumerate() {
        if block > 0 {
            layers.push(LayerShape { name: format!("pool{block}"), conv: None, input: (c, h, w), output: (c, h / 2, w / 2) });
            h /= 2;
            w /= 2;
        }
        for k in 0..*convs {
            let (cin, cout) = channels[conv];
            debug_assert_eq!(cin, c);
            layers.push(LayerShape { name: format!("relu{}_{}", block + 1, k + 1), conv: Some(conv), input: (c, h, w), output: (cout, h, w) });
            c = cout;
            conv += 1;
        }
    }
    layers
}

/// The channel counts of the real VGG19 convolutions.
pub fn vgg19_channels() -> Vec<(usize, usize)> {
    crate::weights::CONVS.iter().map(|&(_, i, o)| (i, o)).collect()
}

/// Splits `size` (the longer side) into width × height with the aspect ratio of `w0`×`h0`.
pub fn fit_size(w0: u32, h0: u32, size: u32) -> (u32, u32) {
    if w0 >= h0 {
        (size, ((size as f64 * h0 as f64 / w0 as f64).round() as u32).max(1))
    } else {
        (((size as f64 * w0 as f64 / h0 as f64).round() as u32).max(1), size)
    }
}

/// The memory budget a page uses on `gpu` unless told otherwise (WebGPU does not say how much
/// memory a device has): twice the largest buffer the adapter allows, between 512 MiB and 2 GiB.
pub fn default_budget(gpu: &Gpu) -> u64 {
    (2 * gpu.adapter_limits.max_buffer_size).clamp(512 << 20, 2 << 30)
}

/// Elements of one conv's weights for the forward pass and the input gradient under `v`: both
/// GEMM layouts, and with Winograd ([`winograd_tile`]) both transforms too (a layer too small for
/// Winograd at some size runs the GEMM: [`crate::kernels::winograd_for`]).
fn conv_weight_len(cin: usize, cout: usize, v: Variant) -> usize {
    gemm_len(cin, cout) + gemm_len(cout, cin) + winograd_tile(v, cin, cout).map_or(0, |t| wino_len(cin, cout, t) + wino_len(cout, cin, t))
}

/// Bytes of the conv weights of a network with `channels` under `v`: each conv's two layouts
/// (stored in `v.precision`) and the f32 biases.
pub fn weight_bytes(channels: &[(usize, usize)], v: Variant) -> u64 {
    channels.iter().map(|&(cin, cout)| conv_weight_len(cin, cout, v) as u64 * v.precision.bytes() + 4 * cout as u64).sum()
}

/// One convolution's parameters on the GPU.
pub struct GpuConv {
    /// Forward shape's channels (in, out).
    pub cin: usize,
    pub cout: usize,
    /// `[cin·9][cout4]` (cout rounded up to a multiple of 4, zero-padded), in the device's precision.
    pub forward: wgpu::Buffer,
    /// `[cout·9][cin4]`, rotated and transposed for the input gradient, in the device's precision.
    pub backward: wgpu::Buffer,
    /// With Winograd ([`winograd_tile`]): the transforms of both, `[16 or 36][cin][cout4]` and
    /// `[16 or 36][cout][cin4]`.
    pub wino: Option<[wgpu::Buffer; 2]>,
    /// `[cout]`.
    pub bias: wgpu::Buffer,
}

/// The GPU context plus the network weights: everything made once per device and weights file.
pub struct Engine {
    pub gpu: Gpu,
    pub convs: Vec<GpuConv>,
    /// The most GPU memory a session may use with the weights (bytes; `u64::MAX`: only the
    /// device's per-buffer limit applies). See [`Engine::set_memory_budget`].
    memory_budget: std::cell::Cell<u64>,
}

impl Engine {
    /// Uploads the weights (forward and input-gradient GEMM layouts, or their Winograd
    /// transforms where the device's variant runs the conv by Winograd; prepared on the CPU once)
    /// in the device's storage precision (`gpu.precision`).
    pub fn new(gpu: Gpu, weights: &VggWeights) -> Result<Rc<Engine>> {
        let max = gpu.max_storage_bytes();
        let pr = gpu.precision;
        let mut convs = Vec::new();
        for c in &weights.convs {
            let (fwd, bwd) = (c.forward_gemm(), c.backward_gemm());
            let tile = winograd_tile(gpu.variant(), c.cin, c.cout);
            let largest = fwd.len().max(bwd.len()).max(tile.map_or(0, |t| wino_len(c.cin, c.cout, t).max(wino_len(c.cout, c.cin, t))));
            let bytes = pr.bytes() * largest as u64;
            if bytes > max {
                return Err(Error::Device(format!("{} weights need {bytes} bytes; the device allows {max}", c.name)));
            }
            let wino = tile.map(|t| {
                let (uf, ub) = (transform_weights(&fwd, c.cin, c.cout, t), transform_weights(&bwd, c.cout, c.cin, t));
                [gpu.storage_init(&format!("{} winograd fwd", c.name), &pr.weight_bytes(&uf)), gpu.storage_init(&format!("{} winograd bwd", c.name), &pr.weight_bytes(&ub))]
            });
            convs.push(GpuConv {
                cin: c.cin,
                cout: c.cout,
                forward: gpu.storage_init(&format!("{} fwd", c.name), &pr.weight_bytes(&fwd)),
                backward: gpu.storage_init(&format!("{} bwd", c.name), &pr.weight_bytes(&bwd)),
                wino,
                bias: gpu.storage_init(&format!("{} bias", c.name), &c.bias),
            });
        }
        gpu.check()?;
        Ok(Rc::new(Engine { gpu, convs, memory_budget: std::cell::Cell::new(u64::MAX) }))
    }

    /// Limits the GPU memory of the sessions made from now on to `bytes` (weights included;
    /// `u64::MAX`: no limit but the device's per-buffer one). A session whose whole-image plan
    /// exceeds it runs the network over tiles ([`crate::plan::Plan::choose`]).
    pub fn set_memory_budget(&self, bytes: u64) {
        self.memory_budget.set(bytes);
    }

    /// What a session's plan must fit on this engine: the device's buffer limit, the memory budget
    /// and the weights already resident.
    pub fn budget(&self) -> Budget {
        Budget::for_device(&self.gpu, self.memory_budget.get(), self.weight_bytes())
    }

    /// Bytes of the conv weights on the GPU (both layouts and the biases).
    pub fn weight_bytes(&self) -> u64 {
        weight_bytes(&self.channels(), self.gpu.variant())
    }

    /// (cin, cout) of each conv.
    pub fn channels(&self) -> Vec<(usize, usize)> {
        self.convs.iter().map(|c| (c.cin, c.cout)).collect()
    }
}

/// Floats of each of the two Winograd scratch buffers a network of `layers` needs under `v`
/// ([`scratch_floats`]; `None`: no conv runs by Winograd).
pub fn winograd_scratch(layers: &[LayerShape], v: Variant) -> Option<usize> {
    let wino: Vec<&LayerShape> =
        layers.iter().filter(|l| l.conv.is_some() && kernels::winograd_for(v, ConvShape { cin: l.input.0, cout: l.output.0, h: l.input.1, w: l.input.2 }).is_some()).collect();
    let widest = wino.iter().map(|l| l.input.0.max(l.output.0)).max()?;
    let largest = layers.iter().map(|l| v.precision.bytes() * l.out_len() as u64).max().unwrap_or(4);
    Some(scratch_floats(largest, widest))
}

/// The buffers a network runs over: `converted`, the f16 copy of the input (`None` with f32
/// storage), one activation buffer per layer, and the Winograd scratch (`None` when no conv runs
/// by Winograd).
#[derive(Clone)]
pub struct NetStore {
    pub converted: Option<wgpu::Buffer>,
    pub acts: Vec<wgpu::Buffer>,
    pub scratch: Option<WinoScratch>,
}

impl NetStore {
    /// Network `net`'s planned buffers for `layers` from `arena`.
    pub fn take(engine: &Engine, arena: &mut Arena, net: Net, layers: &[LayerShape]) -> NetStore {
        let v = engine.gpu.variant();
        NetStore {
            converted: (v.precision != Precision::F32).then(|| arena.take(Buf::NetworkInput(net))),
            acts: layers.iter().map(|l| arena.take(Buf::Activation(net, l.name.clone()))).collect(),
            scratch: winograd_scratch(layers, v).map(|_| WinoScratch { input: arena.shared(Buf::WinogradInput), product: arena.shared(Buf::WinogradProduct) }),
        }
    }
}

/// Activations of the network for one input size, and its forward pass.
pub struct Network {
    pub width: usize,
    pub height: usize,
    pub layers: Vec<LayerShape>,
    /// One buffer per layer output, `[c][h][w]`, stored in `gpu.precision`.
    pub acts: Vec<wgpu::Buffer>,
    /// The input converted to f16 storage (`None` with f32 storage).
    pub input_act: Option<wgpu::Buffer>,
    /// The Winograd convs' scratch (`None` when no conv runs by Winograd).
    pub scratch: Option<WinoScratch>,
    /// The forward pass from `input` to relu5_1.
    pub forward: Vec<Dispatch>,
}

impl Network {
    /// Takes the network's buffers (`net`'s input copy with f16 storage, its activations) from
    /// `arena` and builds the forward dispatches reading `input` (f32
    /// `[3][height][width]`, network space; with f16 storage the pass starts by converting it into
    /// a buffer of its own). Sizes must have been planned ([`crate::plan::Plan`]).
    pub fn new(engine: &Engine, input: &wgpu::Buffer, width: usize, height: usize, pooling: Pooling, arena: &mut Arena, net: Net) -> Network {
        let layers = layer_shapes(width, height, &engine.channels());
        let store = NetStore::take(engine, arena, net, &layers);
        Network::with_buffers(engine, input, store, width, height, pooling)
    }

    /// The forward pass of a `width`×`height` input over buffers already made (at least that
    /// large: a tile network's buffers serve every tile's shape).
    pub fn with_buffers(engine: &Engine, input: &wgpu::Buffer, store: NetStore, width: usize, height: usize, pooling: Pooling) -> Network {
        let NetStore { converted, acts, scratch } = store;
        let gpu = &engine.gpu;
        let v = gpu.variant();
        let layers = layer_shapes(width, height, &engine.channels());
        let mut forward = Vec::new();
        let hw3 = 3 * width * height;
        if let Some(c) = &converted {
            forward.push(kernels::to_act(gpu, v.precision, hw3, input, c));
        }
        let input = converted.as_ref().unwrap_or(input);
        for (i, l) in layers.iter().enumerate() {
            let src = if i == 0 { input } else { &acts[i - 1] };
            let (c, h, w) = l.input;
            match l.conv {
                Some(k) => {
                    let cv = &engine.convs[k];
                    let shape = ConvShape { cin: c, cout: l.output.0, h, w };
                    let wino = cv.wino.as_ref().zip(scratch.as_ref()).map(|(u, scratch)| kernels::Wino { weight: &u[0], scratch });
                    let bufs = ConvForward { input: src, weight: &cv.forward, bias: &cv.bias, out: &acts[i], wino };
                    forward.extend(kernels::conv_forward(gpu, v, format!("{} fwd", l.name), shape, bufs));
                }
                None => forward.push(kernels::pool_forward(gpu, v.precision, format!("{} fwd", l.name), pooling, PoolShape { c, h, w }, src, &acts[i])),
            }
        }
        Network { width, height, layers, acts, input_act: converted, scratch, forward }
    }

    /// The backward pass of layer `i` of this network: `din` (the gradient w.r.t. its input) from `dout`
    /// (w.r.t. its output). Gradients are passed down already through the ReLU of the layer they
    /// belong to: the writer of the gradient w.r.t. layer i−1 applies that layer's mask when it is a
    /// conv (ReLU) output; a pool output or the image gets none.
    pub fn backward(&self, engine: &Engine, i: usize, pooling: Pooling, dout: &wgpu::Buffer, din: &wgpu::Buffer) -> Vec<Dispatch> {
        let gpu = &engine.gpu;
        let l = &self.layers[i];
        let (ci, ih, iw) = l.input;
        let below_relu = (i > 0 && self.layers[i - 1].conv.is_some()).then(|| &self.acts[i - 1]);
        let label = format!("{} bwd", l.name);
        match l.conv {
            Some(k) => {
                let cv = &engine.convs[k];
                let wino = cv.wino.as_ref().zip(self.scratch.as_ref()).map(|(u, scratch)| kernels::Wino { weight: &u[1], scratch });
                let bufs = ConvBackward { dout, in_act: below_relu, weight_t: &cv.backward, din, wino };
                kernels::conv_backward(gpu, gpu.variant(), label, ConvShape { cin: ci, cout: l.output.0, h: ih, w: iw }, bufs)
            }
            None => {
                let bufs = PoolBackward { input: &self.acts[i - 1], dout, din, relu_mask: below_relu.is_some() };
                vec![kernels::pool_backward(gpu, gpu.precision, label, pooling, PoolShape { c: ci, h: ih, w: iw }, bufs)]
            }
        }
    }

    /// Reads layer `i`'s activation back as f32 values (`[c][h][w]`; with f16 storage, the
    /// stored half values unscaled).
    pub async fn read_act(&self, gpu: &Gpu, i: usize) -> Result<Vec<f32>> {
        gpu.read_act(&self.acts[i], gpu.precision, self.layers[i].out_len()).await
    }

    /// Index of the layer named `name` (e.g. `relu4_2`).
    pub fn index(&self, name: &str) -> usize {
        self.layers.iter().position(|l| l.name == name).expect("known layer name")
    }
}
