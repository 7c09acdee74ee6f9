//! The parse-only baselines for benchmarks (the floor `polytrans check` and `polytrans psp` are
//! compared with). Prints the number of objects.
//!
//! - `*.json`: a streaming `serde_json::Deserializer` over a buffered reader of the file; a root
//!   mapping's `items` array is visited element by element (each element deserialized into
//!   `IgnoredAny` and dropped), so memory stays flat like `polytrans check`'s.
//!   A root array is visited the same way; a file of several values (one object per line,
//!   NDJSON) is read value after value.
//!   With `--slice` the whole file is read into memory first and parsed from the slice (faster,
//!   memory the size of the file): reported for comparison.
//! - anything else: multi-document YAML, each document parsed into a `serde_yaml::Value` and
//!   dropped.
//!
//! `cargo run --release --example parse-only -- [--slice] FILE...`

use serde::Deserialize;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// A root value: a mapping whose `items` (if an array) is counted element by element.
struct Root<'c>(&'c mut usize);

impl<'de> DeserializeSeed<'de> for Root<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Root<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut items = false;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "items" {
                items = true;
                map.next_value_seed(Items(self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if !items {
            *self.0 += 1;
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {
            *self.0 += 1;
        }
        Ok(())
    }
}

/// `items`: each element deserialized into `IgnoredAny` and dropped.
struct Items<'c>(&'c mut usize);

impl<'de> DeserializeSeed<'de> for Items<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Items<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {
            *self.0 += 1;
        }
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }
}

fn main() {
    let mut objects = 0usize;
    let mut slice = false;
    for arg in std::env::args().skip(1) {
        if arg == "--slice" {
            slice = true;
            continue;
        }
        let path = arg;
        if [".json", ".ndjson", ".jsonl"]
            .iter()
            .any(|e| path.ends_with(e))
        {
            if slice {
                let bytes = std::fs::read(&path).expect("readable file");
                let mut de = serde_json::Deserializer::from_slice(&bytes);
                Root(&mut objects).deserialize(&mut de).expect("valid JSON");
                while de.end().is_err() {
                    Root(&mut objects).deserialize(&mut de).expect("valid JSON");
                }
            } else {
                let file = std::fs::File::open(&path).expect("readable file");
                let reader = std::io::BufReader::with_capacity(1 << 16, file);
                let mut de = serde_json::Deserializer::from_reader(reader);
                Root(&mut objects).deserialize(&mut de).expect("valid JSON");
                while de.end().is_err() {
                    Root(&mut objects).deserialize(&mut de).expect("valid JSON");
                }
            }
        } else {
            let text = std::fs::read_to_string(&path).expect("readable file");
            for d in serde_yaml::Deserializer::from_str(&text) {
                let v = serde_yaml::Value::deserialize(d).expect("valid YAML");
                objects += 1;
                drop(v);
            }
        }
    }
    println!("{objects}");
}
