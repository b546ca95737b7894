//! Where an iteration's work runs: the schedule and its passes. A pass runs the network over one
//! tile of a grid; the whole image is the grid of one tile that owns every feature and whose
//! network reads the image itself. The loss terms ([`super::terms`]) see only passes — the
//! features a pass owns at a layer ([`Owned`]) and where their gradient goes ([`Sink`]) — so one
//! implementation serves both schedules; [`Order`] says how the passes of an iteration are
//! arranged (see ARCHITECTURE.md).

use crate::gpu::Dispatch;
use crate::kernels::{self, BoxMove};
use crate::plan::{Arena, Buf, Net, Plan};
use crate::settings::Settings;
use crate::tiles::{strides, Rect, Tile, TileGrid};
use crate::vgg::{layer_shapes, Engine, LayerShape, NetStore, Network, CONTENT_LAYER, STYLE_LAYERS};
use wgpu::Buffer;

/// How the passes of one iteration are arranged.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Order {
    /// One pass over the whole image: each style layer's Gram, G − A and gradient in turn, inside
    /// the backward sweep (one buffer per layer serves every region).
    Whole,
    /// Tiles, two passes: every tile's Grams summed, G − A, then every tile's backward pass.
    Exact,
    /// Tiles, one pass each, with the previous iteration's G − A (computed at its end).
    Fast,
}

/// A network's buffers: `input`, the copy of a tile's pixels (`None`: the network reads the image
/// itself), the f16 copy of its input (f16 storage), and one activation buffer per layer.
pub struct NetBuffers {
    input: Option<Buffer>,
    store: NetStore,
}

impl NetBuffers {
    /// The planned buffers of network `net` of `layers`: its own ([`NetStore`]: input copy with
    /// f16 storage, activations, Winograd scratch) and the tile network's input.
    fn take(engine: &Engine, arena: &mut Arena, net: Net, layers: &[LayerShape]) -> NetBuffers {
        NetBuffers { input: (net == Net::Tile).then(|| arena.take(Buf::TileInput)), store: NetStore::take(engine, arena, net, layers) }
    }
}

/// One pass: tile `tile` of `grid` through a network over a [`NetBuffers`], and the dispatches that
/// bring its input in and run it forward.
pub struct Pass<'a> {
    pub grid: &'a TileGrid,
    pub tile: &'a Tile,
    pub net: Network,
    pub forward: Vec<Dispatch>,
    /// Whether the network reads the image itself (its input gradient is the image's).
    pub direct: bool,
}

/// The features a pass owns at one layer: the activation itself when it owns all of it, else a
/// copy of its owned box (`op`) in the crop scratch.
pub struct Owned<'a> {
    /// The owned box in the pass's layer coordinates.
    pub rect: Rect,
    pub feats: &'a Buffer,
    pub op: Option<Dispatch>,
    /// The pass owns the whole layer (its gradient goes straight into the layer's).
    pub full: bool,
}

/// Where a loss term's gradient at one layer goes: `buf` (the layer's gradient when the pass owns
/// all of it, else the owned box's scratch), and whether anything is in it yet (a term then adds).
pub struct Sink<'a> {
    pub buf: &'a Buffer,
    pub written: bool,
}

/// The schedule of a session: its order, the grid of the photo and of each painting, the layer
/// layout, and the buffers the passes run on (from the plan).
pub struct Schedule<'e> {
    pub engine: &'e Engine,
    /// The session's settings.
    pub s: &'e Settings,
    pub order: Order,
    /// The photo's grid (the whole image: one tile, halo 0).
    pub grid: TileGrid,
    /// The whole photo's layer shapes, the style layers' and the content layer's indices, strides.
    pub layers: Vec<LayerShape>,
    pub style: Vec<usize>,
    pub content: usize,
    pub strides: Vec<usize>,
    /// The photo's network; the paintings' (whole: its own, freed with the targets; tiles: the
    /// photo's).
    photo: NetBuffers,
    pub painting: Option<NetBuffers>,
    /// Tiles: a layer's owned features and (iteration) their gradient, and a tile's input gradient.
    crop: Option<Buffer>,
    crop_grad: Option<Buffer>,
    grad_in: Option<Buffer>,
    /// The gradient w.r.t. the current layer's output and the next (iteration).
    pub ping: Vec<Buffer>,
    /// Regions: a tile's owned part of a mask, the masked features (the photo's; the painting's),
    /// and the gradient of the masked features (iteration).
    mask_crop: Option<Buffer>,
    pub masked: Option<Buffer>,
    pub painting_masked: Option<Buffer>,
    pub masked_grad: Option<Buffer>,
}

impl<'e> Schedule<'e> {
    /// The schedule of `plan` over a `w`×`h` photo and paintings within `bounding`, taking the
    /// buffers the targets use (regions: `regions`; style masks: `guided`).
    pub fn new(
        engine: &'e Engine,
        s: &'e Settings,
        plan: &Plan,
        ((w, h), bounding): ((usize, usize), (usize, usize)),
        (regions, guided): (bool, bool),
        arena: &mut Arena,
    ) -> Schedule<'e> {
        let channels = engine.channels();
        let layers = layer_shapes(w, h, &channels);
        let index = |name: &str| layers.iter().position(|l| l.name == name).expect("a VGG19 layer");
        let style = STYLE_LAYERS.iter().map(|n| index(n)).collect();
        let content = index(CONTENT_LAYER);
        let strides = strides(&layers);
        let (order, grid, photo) = match &plan.grid {
            None => (Order::Whole, whole_grid(w, h), NetBuffers::take(engine, arena, Net::Photo, &layers)),
            Some(g) => (if plan.exact { Order::Exact } else { Order::Fast }, g.clone(), NetBuffers::take(engine, arena, Net::Tile, &layer_shapes(16, 16, &channels))),
        };
        let tiled = order != Order::Whole;
        let take = |arena: &mut Arena, on: bool, key: Buf| on.then(|| arena.take(key));
        let mut sch = Schedule {
            engine,
            s,
            order,
            grid,
            layers,
            style,
            content,
            strides,
            photo,
            painting: (!tiled).then(|| NetBuffers::take(engine, arena, Net::Painting, &layer_shapes(bounding.0, bounding.1, &channels))),
            crop: take(arena, tiled, Buf::TileCrop),
            crop_grad: None,
            grad_in: None,
            ping: Vec::new(),
            mask_crop: take(arena, tiled && regions, Buf::TileMaskCrop),
            masked: take(arena, tiled && regions, Buf::TileMaskedCrop),
            painting_masked: None,
            masked_grad: None,
        };
        sch.painting_masked = if tiled { sch.masked.clone().filter(|_| guided) } else { take(arena, guided, Buf::StyleRegionFeatures) };
        sch
    }

    /// Whether passes run over tiles.
    pub fn tiled(&self) -> bool {
        self.order != Order::Whole
    }

    /// Takes the iteration's buffers (after [`Arena::begin_iteration`]): the gradients.
    pub fn take_iteration(&mut self, arena: &mut Arena, regions: bool) {
        let tiled = self.tiled();
        let net = if tiled { Net::Tile } else { Net::Photo };
        self.ping = vec![arena.take(Buf::GradientPing(net)), arena.take(Buf::GradientPong(net))];
        if tiled {
            self.grad_in = Some(arena.take(Buf::TileImageGradient));
            self.crop_grad = Some(arena.take(Buf::TileCropGradient));
        }
        if regions {
            self.masked_grad = Some(arena.take(if tiled { Buf::TileMaskedGradient } else { Buf::RegionGradient }));
            if !tiled {
                self.masked = Some(arena.take(Buf::RegionFeatures));
            }
        }
    }

    /// The grid of a `w`×`h` painting: the photo's core and halo over tiles.
    pub fn painting_grid(&self, w: usize, h: usize) -> TileGrid {
        if self.tiled() {
            TileGrid::new(w, h, self.grid.core, self.grid.halo)
        } else {
            whole_grid(w, h)
        }
    }

    /// Tile `t` of `grid` over `image` (`[3][H][W]` network space), through the photo's network or
    /// (with `painting`) the painting's.
    pub fn pass<'a>(&self, grid: &'a TileGrid, t: &'a Tile, image: &Buffer, painting: bool) -> Pass<'a> {
        let bufs = if painting { self.painting.as_ref().unwrap_or(&self.photo) } else { &self.photo };
        let (tw, th) = t.input_size();
        let mut forward = Vec::new();
        let input = match &bufs.input {
            Some(input) => {
                let m = BoxMove { c: 3, src: (grid.width, grid.height), from: Rect { x: t.ix0, y: t.iy0, w: tw, h: th }, dst: (tw, th), to: (0, 0) };
                forward.extend(kernels::copy_boxes(&self.engine.gpu, "tile input", m, image, input, false));
                input
            }
            None => image,
        };
        let net = Network::with_buffers(self.engine, input, bufs.store.clone(), tw, th, self.s.pooling);
        forward.extend(net.forward.iter().cloned());
        Pass { grid, tile: t, net, forward, direct: bufs.input.is_none() }
    }

    /// The features pass `p` owns at layer `i` (`None`: none), copied into `into` (default: the crop
    /// scratch) unless it owns all of them.
    pub fn owned<'a>(&'a self, p: &'a Pass, i: usize, into: Option<&'a Buffer>) -> Option<Owned<'a>> {
        let j = self.strides[i];
        let o = p.tile.owned(j, p.grid.width, p.grid.height);
        let (c, lh, lw) = p.net.layers[i].output;
        if o.area() == 0 {
            return None;
        }
        if o == (Rect { x: 0, y: 0, w: lw, h: lh }) && into.is_none() {
            return Some(Owned { rect: o, feats: &p.net.acts[i], op: None, full: true });
        }
        let dst = into.or(self.crop.as_ref()).expect("a crop scratch over tiles");
        let m = BoxMove { c, src: (lw, lh), from: o, dst: (o.w, o.h), to: (0, 0) };
        let op = kernels::copy_box_act(&self.engine.gpu, self.engine.gpu.precision, "tile crop".into(), m, &p.net.acts[i], dst);
        Some(Owned { rect: o, feats: dst, op: Some(op), full: false })
    }

    /// The part of `mask` (`[h][w]` over pass `p`'s whole grid at layer `i`'s stride j: ⌊W/j⌋×⌊H/j⌋,
    /// as pooling floors) under the features `o` it owns: the mask itself when that is all of it,
    /// else copied into the mask scratch (`op`).
    pub fn mask<'a>(&'a self, p: &Pass, i: usize, o: &Owned, mask: &'a Buffer) -> (&'a Buffer, Option<Dispatch>) {
        let j = self.strides[i];
        let size = (p.grid.width / j, p.grid.height / j);
        let from = Rect { x: p.tile.ix0 / j + o.rect.x, y: p.tile.iy0 / j + o.rect.y, w: o.rect.w, h: o.rect.h };
        if from == (Rect { x: 0, y: 0, w: size.0, h: size.1 }) {
            return (mask, None);
        }
        let scratch = self.mask_crop.as_ref().expect("a mask scratch over tiles with regions");
        let m = BoxMove { c: 1, src: size, from, dst: (o.rect.w, o.rect.h), to: (0, 0) };
        (scratch, Some(kernels::copy_box(&self.engine.gpu, "region mask crop".into(), m, mask, scratch, false)))
    }

    /// The sink for pass `p`'s gradient at features `o` (the layer's gradient `layer` holding
    /// anything already: `written`).
    pub fn sink<'a>(&'a self, o: &Owned, layer: &'a Buffer, written: bool) -> Sink<'a> {
        if o.full {
            Sink { buf: layer, written }
        } else {
            Sink { buf: self.crop_grad.as_ref().expect("taken with the iteration's buffers"), written: false }
        }
    }

    /// Adds a sink's box of gradient (features `o` of a `c`×`lh`×`lw` layer) into the layer's.
    pub fn scatter(&self, o: &Owned, (c, lh, lw): (usize, usize, usize), sink: &Sink, layer: &Buffer) -> Option<Dispatch> {
        let r = o.rect;
        let m = BoxMove { c, src: (r.w, r.h), from: Rect { w: r.w, h: r.h, ..Rect::default() }, dst: (lw, lh), to: (r.x, r.y) };
        (!o.full && sink.written).then(|| kernels::copy_box(&self.engine.gpu, "tile scatter".into(), m, sink.buf, layer, true))
    }

    /// Where pass `p`'s input gradient goes: the image's (`grad_x`) when it reads the image, else
    /// the tile's (then added in by [`Self::scatter_input`]).
    pub fn input_grad<'a>(&'a self, p: &Pass, grad_x: &'a Buffer) -> &'a Buffer {
        if p.direct {
            grad_x
        } else {
            self.grad_in.as_ref().expect("taken with the iteration's buffers")
        }
    }

    /// Adds a tile's input gradient into the image's (nothing when the pass reads the image).
    pub fn scatter_input(&self, p: &Pass, grad_x: &Buffer) -> Vec<Dispatch> {
        if p.direct {
            return Vec::new();
        }
        let (tw, th) = p.tile.input_size();
        let m = BoxMove { c: 3, src: (tw, th), from: Rect { x: 0, y: 0, w: tw, h: th }, dst: (self.grid.width, self.grid.height), to: (p.tile.ix0, p.tile.iy0) };
        kernels::copy_boxes(&self.engine.gpu, "tile scatter", m, self.input_grad(p, grad_x), grad_x, true)
    }
}

/// The grid of one tile over a whole `w`×`h` image.
fn whole_grid(w: usize, h: usize) -> TileGrid {
    TileGrid::new(w, h, w.max(h).next_multiple_of(16), 0)
}
