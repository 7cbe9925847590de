//! Long-lived helper threads for work that one thread hands out in rounds (the producer's
//! flusher writes the batches of different partitions in parallel).
//!
//! Threads are started on first need and live as long as the [`Helpers`]: starting a thread
//! per round would give each round's buffers to a fresh allocator heap, abandoned when the
//! thread exits, which costs memory and page faults at every round.

use std::sync::mpsc;

/// What a helper thread runs for each job; made once per thread (it may keep state, such as
/// a reusable buffer, between jobs).
type Work<J> = Box<dyn FnMut(J) + Send>;

/// A set of helper threads running jobs of type `J`.
pub(crate) struct Helpers<J: Send + 'static> {
    name: &'static str,
    make: Box<dyn Fn() -> Work<J> + Send>,
    threads: Vec<mpsc::Sender<(J, mpsc::Sender<()>)>>,
}

impl<J: Send + 'static> Helpers<J> {
    /// Helpers named `name`; `make` builds each thread's job runner.
    pub(crate) fn new(name: &'static str, make: impl Fn() -> Work<J> + Send + 'static) -> Self {
        Helpers {
            name,
            make: Box::new(make),
            threads: Vec::new(),
        }
    }

    /// Runs each of `jobs` on its own helper thread while `here` runs on the calling thread,
    /// and returns once all are done. A job for which no thread can be started runs on the
    /// calling thread through `fallback`.
    ///
    /// # Panics
    /// If a helper thread panicked while running a job (as a scoped thread would).
    pub(crate) fn run_parallel(
        &mut self,
        jobs: Vec<J>,
        here: impl FnOnce(),
        mut fallback: impl FnMut(J),
    ) {
        let (done_tx, done_rx) = mpsc::channel();
        let mut sent = 0;
        for (i, job) in jobs.into_iter().enumerate() {
            match self.thread(i) {
                Some(tx) => match tx.send((job, done_tx.clone())) {
                    Ok(()) => sent += 1,
                    Err(mpsc::SendError((job, _))) => fallback(job),
                },
                None => fallback(job),
            }
        }
        drop(done_tx);
        here();
        for _ in 0..sent {
            if done_rx.recv().is_err() {
                panic!("a {} helper thread died", self.name);
            }
        }
    }

    /// The `i`th thread's job queue, starting it if needed.
    fn thread(&mut self, i: usize) -> Option<&mpsc::Sender<(J, mpsc::Sender<()>)>> {
        while self.threads.len() <= i {
            let (tx, rx) = mpsc::channel::<(J, mpsc::Sender<()>)>();
            let mut work = (self.make)();
            std::thread::Builder::new()
                .name(self.name.into())
                .spawn(move || {
                    for (job, done) in rx {
                        work(job);
                        let _ = done.send(());
                    }
                })
                .ok()?;
            self.threads.push(tx);
        }
        self.threads.get(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[test]
    fn jobs_run_on_reused_threads_and_all_finish_before_return() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let mut h = Helpers::new("test-helper", move || {
            let s = s.clone();
            Box::new(move |j: u32| {
                std::thread::sleep(std::time::Duration::from_millis(5));
                s.lock().unwrap().push((j, std::thread::current().id()));
            })
        });
        let mut ids = Vec::new();
        for round in 0..3 {
            let mut here = false;
            h.run_parallel(
                vec![round * 10, round * 10 + 1],
                || here = true,
                |_| panic!(),
            );
            assert!(here);
            let v = seen.lock().unwrap();
            assert_eq!(v.len(), 2 * (round as usize + 1), "all jobs done on return");
            ids.extend(v.iter().map(|(_, id)| *id));
        }
        ids.sort_by_key(|id| format!("{id:?}"));
        ids.dedup();
        assert_eq!(ids.len(), 2, "two threads, reused across rounds");
    }
}
