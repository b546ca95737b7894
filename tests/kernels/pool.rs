//! pool.wgsl: 2×2 max and average pooling, forward and backward.

use super::*;

fn pooling(avg: bool) -> Pooling {
    if avg {
        Pooling::Avg
    } else {
        Pooling::Max
    }
}

#[test]
fn pool_forward_and_backward() {
    let gpu = gpu();
    for precision in precisions(gpu) {
        for (c, h, w, avg) in [(3, 7, 9, false), (5, 8, 6, true), (2, 9, 5, true), (4, 6, 11, false)] {
            let mut input = round_acts(precision, &random(c * h * w, -1.0, 1.0, 7 + c as u64));
            if !avg {
                input[1] = input[0]; // a tie: first maximum wins
            }
            let x = gpu.act_init("x", precision, &input);
            let n_out = c * (h / 2) * (w / 2);
            let out = nan_acts(gpu, precision, n_out);
            let got = run_read_acts(gpu, precision, &[&kernels::pool_forward(gpu, precision, "t".into(), pooling(avg), PoolShape { c, h, w }, &x, &out)], &out, n_out);
            let want = cpu::pool_forward(&to_f64(&input), c, h, w, avg);
            // Max pooling is exact in either precision; f16 averages add f16's rounding.
            let rtol = if precision == Precision::F16 && avg { 1e-3 } else { 1e-6 };
            assert_close(&format!("pool fwd {precision:?} avg={avg} {c}x{h}x{w}"), &got, &want, 1e-6, rtol);

            let dout = random(n_out, -1.0, 1.0, 99);
            let d = gpu.storage_init("dout", &dout);
            for mask in [false, true] {
                let din = nan_buffer(gpu, c * h * w);
                let got = run_read(
                    gpu,
                    &[&kernels::pool_backward(gpu, precision, "t".into(), pooling(avg), PoolShape { c, h, w }, PoolBackward { input: &x, dout: &d, din: &din, relu_mask: mask })],
                    &din,
                    c * h * w,
                );
                let want = cpu::pool_backward(&to_f64(&input), &to_f64(&dout), c, h, w, avg, mask);
                assert_close(&format!("pool bwd {precision:?} avg={avg} mask={mask} {c}x{h}x{w}"), &got, &want, 1e-6, 1e-6);
            }
        }
    }
}
