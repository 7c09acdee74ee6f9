//! The loader never panics, whatever the bytes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let src = std::sync::Arc::new(polytrans::load::Source { name: "fuzz".into() });
    let mut diags = polytrans::diag::Diagnostics::default();
    polytrans::load::parse_stream(text, &src, &Default::default(), &mut |_| {}, &mut diags);
});
