//! Running a sync's copies: several at once (each copy is mostly waiting
//! on round trips, so small images gain most from overlapping), finished
//! in order so output reads as a one-by-one sync's, and either stopping at
//! the first failure or, with `--keep-going`, going on and counting.

use std::future::Future;

use futures_util::StreamExt;

use super::plan::Job;

/// What a sync did.
pub struct Summary<E> {
    pub synced: usize,
    /// Failed copies (index into the jobs) in order.
    pub failures: Vec<(usize, E)>,
    /// Stopped at the first failure (no `--keep-going`); copies after it
    /// that were already under way were dropped mid-way, which leaves
    /// their destinations as a kill would: untagged or complete.
    pub aborted: bool,
}

pub async fn run<T, E, F, Fut, D>(
    jobs: &[Job],
    at_once: usize,
    keep_going: bool,
    copy: F,
    mut done: D,
) -> Summary<E>
where
    F: Fn(&Job) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    D: FnMut(&Job, &Result<T, E>),
{
    let mut summary = Summary {
        synced: 0,
        failures: Vec::new(),
        aborted: false,
    };
    let copy = &copy;
    let mut finished = futures_util::stream::iter(jobs.iter().enumerate())
        .map(|(i, job)| async move { (i, copy(job).await) })
        .buffered(at_once.max(1));
    while let Some((i, result)) = finished.next().await {
        let Some(job) = jobs.get(i) else { continue };
        done(job, &result);
        match result {
            Ok(_) => summary.synced += 1,
            Err(e) => {
                summary.failures.push((i, e));
                if !keep_going {
                    summary.aborted = true;
                    break;
                }
            }
        }
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::sources::SourceRepo;
    use crate::sync::{plan, DestKind, SourceImage};
    use vouch_image::ImageRef;

    fn jobs(n: usize) -> Vec<Job> {
        let repo = SourceRepo {
            dir_base: None,
            images: (0..n)
                .map(|i| SourceImage::Docker(ImageRef::parse(&format!("r.example/a:{i}")).unwrap()))
                .collect(),
            settings: None,
        };
        plan::jobs(&[repo], false, "m.example", DestKind::Docker).unwrap()
    }

    fn block<T>(f: impl Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn results_arrive_in_order_though_copies_overlap() {
        let j = jobs(6);
        let mut order = Vec::new();
        let s = block(run(
            &j,
            3,
            false,
            |job| {
                let i = job.index;
                async move {
                    // Later jobs finish first.
                    tokio::time::sleep(std::time::Duration::from_millis(60 - 10 * i as u64)).await;
                    Ok::<_, ()>(i)
                }
            },
            |_, r| order.push(*r.as_ref().unwrap()),
        ));
        assert_eq!(order, [1, 2, 3, 4, 5, 6]);
        assert_eq!(s.synced, 6);
        assert!(!s.aborted);
    }

    #[test]
    fn the_first_failure_stops_without_keep_going() {
        let j = jobs(5);
        let mut seen = 0;
        let s = block(run(
            &j,
            1,
            false,
            |job| {
                let i = job.index;
                async move {
                    if i == 2 {
                        Err("no")
                    } else {
                        Ok(())
                    }
                }
            },
            |_, _| seen += 1,
        ));
        assert_eq!(
            (s.synced, s.failures.len(), s.aborted, seen),
            (1, 1, true, 2)
        );
    }

    #[test]
    fn keep_going_counts_every_failure() {
        let j = jobs(5);
        let s = block(run(
            &j,
            2,
            true,
            |job| {
                let i = job.index;
                async move {
                    if i % 2 == 0 {
                        Err(i)
                    } else {
                        Ok(())
                    }
                }
            },
            |_, _| {},
        ));
        assert_eq!(s.synced, 3);
        assert_eq!(s.failures.iter().map(|f| f.1).collect::<Vec<_>>(), [2, 4]);
        assert!(!s.aborted);
    }
}
