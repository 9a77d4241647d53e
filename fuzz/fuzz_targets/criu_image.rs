//! The CRIU image reader that takes the dumped tasks' credentials out of
//! an imported checkpoint (`vouch_runtime::checkpoint::criu_image`) and the
//! check that judges them (`checkpoint::creds`).
//!
//! Besides not crashing: what the reader accepts, written back as CRIU
//! writes it, reads back the same, and the check's verdict on it holds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vouch_runtime::checkpoint::creds::{self, Allowed, TaskCreds};
use vouch_runtime::checkpoint::criu_image::{self, CoreEntry, ImageError, ThreadCoreEntry};

fn judge(c: criu_image::CredsEntry) {
    let default = vouch_runtime::defaults::capabilities(&[], &[]).expect("default set");
    let allowed = Allowed::with_caps(&default).expect("default set is known");
    let t = TaskCreds {
        image: "checkpoint/core-1.img".into(),
        creds: c,
    };
    for e in creds::check(&t, &allowed) {
        assert!(e.refusal().starts_with("checkpoint/core-1.img: "));
    }
}

/// Written back unpacked, a packed repeated field may outgrow the caps.
fn same<T: PartialEq + std::fmt::Debug>(again: Result<T, ImageError>, was: &T) {
    match again {
        Err(ImageError::TooBig(_) | ImageError::EntryTooBig(_)) => {}
        r => assert_eq!(r.as_ref(), Ok(was)),
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(c) = criu_image::core_creds(data) {
        let again = criu_image::encode(
            criu_image::CORE_MAGIC,
            &CoreEntry {
                thread_core: Some(ThreadCoreEntry { creds: c.clone() }),
            },
        );
        same(criu_image::core_creds(&again), &c);
        if let Some(c) = c {
            judge(c);
        }
    }
    if let Ok(c) = criu_image::creds_image(data) {
        let again = criu_image::encode(criu_image::CREDS_MAGIC, &c);
        same(criu_image::creds_image(&again), &c);
        judge(c);
    }
});
