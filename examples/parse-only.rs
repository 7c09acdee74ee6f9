//! The parse-only baseline for benchmarks: reads the same files into `serde_yaml::Value` (every
//! document) or `serde_json::Value` and drops them. Prints the number of documents.
//!
//! `cargo run --release --example parse-only -- FILE...`

use serde::Deserialize;

fn main() {
    let mut docs = 0usize;
    for path in std::env::args().skip(1) {
        let text = std::fs::read_to_string(&path).expect("readable file");
        if path.ends_with(".json") {
            let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
            docs += v
                .get("items")
                .and_then(|i| i.as_array())
                .map_or(1, Vec::len);
            drop(v);
        } else {
            for d in serde_yaml::Deserializer::from_str(&text) {
                let v = serde_yaml::Value::deserialize(d).expect("valid YAML");
                docs += 1;
                drop(v);
            }
        }
    }
    println!("{docs}");
}
