//! Prometheus metrics, kept in fixed arrays of atomics.
//!
//! Label sets here are small and closed (five methods, a dozen statuses), so
//! plain atomics indexed by label avoid the lock and hash lookup a generic
//! registry needs per observation — this sits on the path of every request.
//! Rendering follows the text exposition format 0.0.4.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use axum::http::Method;

const METHODS: [&str; 5] = ["GET", "HEAD", "POST", "PUT", "other"];
const STATUSES: [u16; 16] = [
    200, 201, 304, 400, 401, 403, 404, 405, 408, 409, 412, 413, 428, 500, 503, 0,
];
/// Upper bounds in seconds (an extra +Inf bucket follows).
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.5,
];

/// Upload outcomes.
#[derive(Debug, Clone, Copy)]
pub enum Upload {
    Stored = 0,
    Rejected = 1,
    Conflict = 2,
    Unauthorized = 3,
}
const UPLOADS: [&str; 4] = ["stored", "rejected", "conflict", "unauthorized"];

#[derive(Default)]
pub struct Metrics {
    requests: [[AtomicU64; STATUSES.len()]; METHODS.len()],
    buckets: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_ns: AtomicU64,
    bytes_served: AtomicU64,
    uploads: [AtomicU64; UPLOADS.len()],
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    connections_open: AtomicU64,
    connections_total: AtomicU64,
}

fn method_index(m: &Method) -> usize {
    match *m {
        Method::GET => 0,
        Method::HEAD => 1,
        Method::POST => 2,
        Method::PUT => 3,
        _ => 4,
    }
}

fn status_index(s: u16) -> usize {
    STATUSES
        .iter()
        .position(|x| *x == s)
        .unwrap_or(STATUSES.len() - 1)
}

impl Metrics {
    pub fn request(&self, method: &Method, status: u16, latency: Duration, body_bytes: u64) {
        self.requests[method_index(method)][status_index(status)].fetch_add(1, Relaxed);
        let secs = latency.as_secs_f64();
        let b = BUCKETS
            .iter()
            .position(|ub| secs <= *ub)
            .unwrap_or(BUCKETS.len());
        self.buckets[b].fetch_add(1, Relaxed);
        self.latency_sum_ns
            .fetch_add(latency.as_nanos() as u64, Relaxed);
        self.bytes_served.fetch_add(body_bytes, Relaxed);
    }

    pub fn upload(&self, outcome: Upload) {
        self.uploads[outcome as usize].fetch_add(1, Relaxed);
    }

    pub fn cache(&self, hit: bool) {
        if hit {
            &self.cache_hits
        } else {
            &self.cache_misses
        }
        .fetch_add(1, Relaxed);
    }

    pub fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Relaxed);
        self.connections_total.fetch_add(1, Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Relaxed);
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut o = String::with_capacity(4096);
        o.push_str("# HELP sigstore_http_requests_total HTTP requests by method and status.\n");
        o.push_str("# TYPE sigstore_http_requests_total counter\n");
        for (mi, m) in METHODS.iter().enumerate() {
            for (si, s) in STATUSES.iter().enumerate() {
                let n = self.requests[mi][si].load(Relaxed);
                if n > 0 {
                    let s = if *s == 0 {
                        "other".to_string()
                    } else {
                        s.to_string()
                    };
                    let _ = writeln!(
                        o,
                        "sigstore_http_requests_total{{method=\"{m}\",status=\"{s}\"}} {n}"
                    );
                }
            }
        }
        o.push_str("# HELP sigstore_http_request_duration_seconds Time from request head to response head.\n");
        o.push_str("# TYPE sigstore_http_request_duration_seconds histogram\n");
        let mut cumulative = 0;
        for (i, ub) in BUCKETS.iter().enumerate() {
            cumulative += self.buckets[i].load(Relaxed);
            let _ = writeln!(
                o,
                "sigstore_http_request_duration_seconds_bucket{{le=\"{ub}\"}} {cumulative}"
            );
        }
        cumulative += self.buckets[BUCKETS.len()].load(Relaxed);
        let _ = writeln!(
            o,
            "sigstore_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        );
        let sum = self.latency_sum_ns.load(Relaxed) as f64 / 1e9;
        let _ = writeln!(o, "sigstore_http_request_duration_seconds_sum {sum}");
        let _ = writeln!(
            o,
            "sigstore_http_request_duration_seconds_count {cumulative}"
        );
        counter(
            &mut o,
            "sigstore_bytes_served_total",
            "Response body bytes sent.",
            self.bytes_served.load(Relaxed),
        );
        o.push_str("# HELP sigstore_uploads_total Signature uploads by outcome.\n# TYPE sigstore_uploads_total counter\n");
        for (i, name) in UPLOADS.iter().enumerate() {
            let _ = writeln!(
                o,
                "sigstore_uploads_total{{result=\"{name}\"}} {}",
                self.uploads[i].load(Relaxed)
            );
        }
        counter(
            &mut o,
            "sigstore_cache_hits_total",
            "Reads answered from memory.",
            self.cache_hits.load(Relaxed),
        );
        counter(
            &mut o,
            "sigstore_cache_misses_total",
            "Reads that opened the file.",
            self.cache_misses.load(Relaxed),
        );
        counter(
            &mut o,
            "sigstore_connections_total",
            "Accepted connections.",
            self.connections_total.load(Relaxed),
        );
        let _ = writeln!(
            o,
            "# HELP sigstore_connections_open Open client connections.\n# TYPE sigstore_connections_open gauge\nsigstore_connections_open {}",
            self.connections_open.load(Relaxed)
        );
        o
    }
}

fn counter(o: &mut String, name: &str, help: &str, v: u64) {
    let _ = writeln!(o, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counts_and_cumulative_buckets() {
        let m = Metrics::default();
        m.request(&Method::GET, 200, Duration::from_micros(50), 700);
        m.request(&Method::GET, 200, Duration::from_millis(3), 700);
        m.request(&Method::DELETE, 418, Duration::from_secs(9), 0);
        m.upload(Upload::Stored);
        let t = m.render();
        assert!(
            t.contains("sigstore_http_requests_total{method=\"GET\",status=\"200\"} 2\n"),
            "{t}"
        );
        assert!(
            t.contains("sigstore_http_requests_total{method=\"other\",status=\"other\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("sigstore_http_request_duration_seconds_bucket{le=\"0.0001\"} 1\n"),
            "{t}"
        );
        assert!(
            t.contains("sigstore_http_request_duration_seconds_bucket{le=\"0.005\"} 2\n"),
            "{t}"
        );
        assert!(
            t.contains("sigstore_http_request_duration_seconds_bucket{le=\"+Inf\"} 3\n"),
            "{t}"
        );
        assert!(t.contains("sigstore_bytes_served_total 1400\n"));
        assert!(t.contains("sigstore_uploads_total{result=\"stored\"} 1\n"));
    }
}
