//! Loading and lowering any text as PSPs and pods never panics; admitted pods are judged.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let src = std::sync::Arc::new(polytrans::load::Source { name: "fuzz".into() });
    let mut diags = polytrans::diag::Diagnostics::default();
    let mut objects = Vec::new();
    polytrans::load::parse_stream(text, &src, &Default::default(), &mut |o| objects.push(o), &mut diags);
    let lenient = polytrans::front::psp::Options { lenient: true };
    if let Ok((policies, _)) = polytrans::front::psp::lower_all_with(&objects, &lenient) {
        for o in &objects {
            if let Some(Ok(found)) = polytrans::pod::pod_of(o) {
                for p in &policies {
                    let _ = polytrans::eval::admits(p, &found.pod);
                }
            }
        }
        for p in &policies {
            let _ = polytrans::fit::fit(p, polytrans::pss::Version::Latest);
        }
    }
});
