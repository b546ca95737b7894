//! The CLI runs a scale's iterations in chunks, one submission each, ending each chunk where
//! something must happen between two iterations: a loss report, an intermediate save, a scripted
//! steer. The rule is plain arithmetic, kept here with its tests.

/// Where the chunk starting at the session's iteration `t` of a scale of `n` iterations ends (the
/// iteration count after it): losses are reported every `report_every` iterations — the losses
/// read after a chunk are those of the image before its last update, so chunks end at 1, 1 + r,
/// 1 + 2r, … to report iterations 0, r, 2r, … —, the image is saved every `save_every`, and a
/// steer due `steer_in` iterations from now stops the chunk there (at least one iteration on).
pub fn chunk_end(t: u32, n: u32, report_every: u32, save_every: Option<u32>, steer_in: Option<u32>) -> u32 {
    let mut end = if t == 0 { 1 } else { ((t - 1) / report_every + 1) * report_every + 1 };
    if let Some(s) = save_every {
        end = end.min((t / s + 1) * s);
    }
    if let Some(d) = steer_in {
        end = end.min(t + d.max(1));
    }
    end.min(n)
}

/// Whether the losses read after a chunk ending at `end` are reported (those of iteration end − 1).
pub fn reports_after(end: u32, report_every: u32) -> bool {
    (end - 1).is_multiple_of(report_every)
}

/// Whether the image after a chunk ending at `end` is saved: every `save_every`, except at the
/// scale's last iteration `n` (the output is written anyway).
pub fn saves_after(end: u32, n: u32, save_every: Option<u32>) -> bool {
    save_every.is_some_and(|s| end.is_multiple_of(s) && end < n)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The chunk ends of a scale of `n` iterations, steering at the (scale) iterations `steers`.
    fn ends(n: u32, report: u32, save: Option<u32>, steers: &[u32]) -> Vec<u32> {
        let (mut t, mut out) = (0, Vec::new());
        while t < n {
            let steer_in = steers.iter().find(|&&s| s > t).map(|s| s - t);
            t = chunk_end(t, n, report, save, steer_in);
            out.push(t);
        }
        out
    }

    #[test]
    fn chunks_end_where_reports_saves_and_steers_fall() {
        assert_eq!(ends(20, 5, None, &[]), [1, 6, 11, 16, 20]);
        let reported: Vec<u32> = ends(20, 5, None, &[]).into_iter().filter(|&e| reports_after(e, 5)).map(|e| e - 1).collect();
        assert_eq!(reported, [0, 5, 10, 15], "iteration 0 and every 5th (the last is evaluated after the run)");
        assert_eq!(ends(20, 5, Some(10), &[]), [1, 6, 10, 11, 16, 20], "a save at 10 splits a chunk");
        assert_eq!(ends(20, 5, Some(10), &[]).into_iter().filter(|&e| saves_after(e, 20, Some(10))).collect::<Vec<_>>(), [10], "never at the end");
        assert_eq!(ends(8, 1, None, &[5]), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(ends(20, 10, None, &[3, 14]), [1, 3, 11, 14, 20], "steers stop chunks at their iterations");
        assert_eq!(chunk_end(4, 20, 10, None, Some(0)), 5, "a steer due now still runs one iteration");
        assert_eq!(ends(3, 10, None, &[]), [1, 3]);
    }
}
