//! Differential: JSON read in chunks of 1–5 bytes (every byte a chunk boundary) gives the same
//! objects, positions and diagnostics as the same text parsed whole; never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::io::Read;

struct Trickle<'a>(&'a [u8], usize);

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.1 = self.1 % 5 + 1;
        let n = self.1.min(buf.len()).min(self.0.len());
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

fuzz_target!(|data: &[u8]| {
    let src = std::sync::Arc::new(polytrans::load::Source { name: "fuzz.json".into() });
    let limits = Default::default();
    let mut read = Vec::new();
    let mut d2 = polytrans::diag::Diagnostics::default();
    polytrans::load::parse_json_reader(
        &mut Trickle(data, 0),
        &src,
        &limits,
        &mut |o| read.push((o.node.to_json(), o.node.line, o.node.column, o.item)),
        &mut d2,
    );
    // Whole-text parsing needs UTF-8; the reader reports invalid bytes itself.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut whole = Vec::new();
    let mut d1 = polytrans::diag::Diagnostics::default();
    polytrans::load::parse_stream(
        text,
        &src,
        &limits,
        &mut |o| whole.push((o.node.to_json(), o.node.line, o.node.column, o.item)),
        &mut d1,
    );
    assert_eq!(d1.to_string(), d2.to_string());
    assert_eq!(whole, read);
});
