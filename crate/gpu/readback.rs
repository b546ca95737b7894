//! The one asynchronous readback path, used natively and on the web: copy into a staging buffer,
//! map it, and await the map (natively by polling the device, on the web by yielding to the
//! browser's event loop). Nothing else in the engine reads GPU memory.

use super::{Gpu, Precision};
use crate::error::{Error, Result};

impl Gpu {
    /// Copies `bytes` bytes from `src` at `offset` into a fresh staging buffer and reads them back.
    /// Asynchronous on every platform: natively it polls the device until the map completes; on the
    /// web it yields to the browser's event loop. Fails on a GPU error or device loss.
    pub async fn read_bytes(&self, src: &wgpu::Buffer, offset: u64, bytes: u64) -> Result<Vec<u8>> {
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: bytes,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut enc = self.device.create_command_encoder(&Default::default());
        enc.copy_buffer_to_buffer(src, offset, &staging, 0, bytes);
        self.queue.submit([enc.finish()]);
        let (tx, rx) = futures_channel::oneshot::channel();
        staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.device.poll(wgpu::PollType::wait_indefinitely()).map_err(|e| Error::Gpu(format!("waiting for the GPU: {e}")))?;
        let mapped = rx.await;
        self.check()?;
        match mapped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(Error::Gpu(format!("reading back a buffer: {e}"))),
            Err(_) => return Err(Error::DeviceLost("a buffer readback was abandoned".into())),
        }
        let data = staging.slice(..).get_mapped_range().map_err(|e| Error::Gpu(format!("mapping a buffer: {e}")))?.to_vec();
        staging.unmap();
        Ok(data)
    }

    /// Reads `len` f32 values from `src`, starting at element `offset`.
    pub async fn read_f32(&self, src: &wgpu::Buffer, offset: usize, len: usize) -> Result<Vec<f32>> {
        let bytes = self.read_bytes(src, offset as u64 * 4, len as u64 * 4).await?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    /// Reads `len` activation values stored in `precision` from `src` (as f32 values).
    pub async fn read_act(&self, src: &wgpu::Buffer, precision: Precision, len: usize) -> Result<Vec<f32>> {
        let bytes = len as u64 * precision.bytes();
        let bytes = self.read_bytes(src, 0, bytes.next_multiple_of(4)).await?;
        Ok(precision.act_values(&bytes[..len * precision.bytes() as usize]))
    }
}
