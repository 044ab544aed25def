//! A Prometheus-style target on a loopback port for scrape-driven tests: the n-th request
//! (0-based) is answered with `body(n)`, so a test scripts its series point by point.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

/// Serves `body(n)` to the n-th request until the test process ends; returns the URL.
pub fn serve(body: impl Fn(usize) -> String + Send + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/metrics", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(&stream);
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|read| read > 2) {
                line.clear();
            }
            let body = body(n);
            let _ = write!(
                &stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}
