//! The default limits accept a realistic 100k-object cluster dump and stop hostile input.

use polytrans::load::{Limits, Source, parse_stream};
use std::sync::Arc;

#[test]
fn default_limits_accept_a_100k_object_dump() {
    // `kubectl get ns,pods -A -o yaml` style: one List document with 100k items.
    let mut text = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for i in 0..100_000 {
        text.push_str(&format!(
            "- apiVersion: v1\n  kind: Pod\n  metadata: {{name: pod-{i}, namespace: ns-{}}}\n  spec:\n    containers: [{{name: app, image: nginx, securityContext: {{runAsNonRoot: true}}}}]\n",
            i % 100
        ));
    }
    let src = Arc::new(Source {
        name: "dump.yaml".into(),
    });
    let mut n = 0usize;
    let mut diags = Default::default();
    parse_stream(&text, &src, &Limits::default(), &mut |_| n += 1, &mut diags);
    assert!(!diags.has_errors(), "{diags}");
    assert_eq!(n, 100_000);
    assert!((text.len() as u64) < Limits::default().max_file_bytes);
    println!(
        "limits: a 100k-object dump ({} bytes) loads with the default limits",
        text.len()
    );
}

#[test]
fn limits_stop_hostile_input() {
    let src = Arc::new(Source { name: "x".into() });
    let tight = Limits {
        max_file_bytes: 1024,
        max_documents: 2,
        max_depth: 8,
        max_alias_nodes: 10,
    };
    let run = |text: &str| {
        let mut diags = polytrans::diag::Diagnostics::default();
        parse_stream(text, &src, &tight, &mut |_| {}, &mut diags);
        diags.to_string()
    };
    assert!(run("kind: A\n---\nkind: A\n---\nkind: A\n").contains("more than 2 documents"));
    assert!(
        run(&format!(
            "kind: List\nitems: {}{}\n",
            "[".repeat(20),
            "]".repeat(20)
        ))
        .contains("nesting deeper than 8")
    );
    assert!(run("a: &a [x, x, x, x]\nb: [*a, *a, *a, *a]\nkind: X\n").contains("alias bomb"));
}
