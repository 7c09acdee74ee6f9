//! Reading inputs as text: files, stdin, encodings (UTF-8, UTF-16 with a byte-order mark), control
//! characters, and the streamed character source the YAML parser reads.

use super::*;

pub(super) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or folder".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let s = e.to_string();
            // std's messages end with " (os error N)"; keep them short.
            s.split(" (os error").next().unwrap_or(&s).to_lowercase()
        }
    }
}

pub(super) fn read_input(path: &Path, limits: &Limits) -> Result<String, Diagnostic> {
    let name = display_path(path);
    let mut bytes = Vec::new();
    let too_big = |n: u64| {
        Diagnostic::error(format!(
            "`{name}` is larger than the input limit ({n} bytes > {} bytes)",
            limits.max_file_bytes
        ))
        .at(Location::file(name.clone()))
        .with_help("raise the limit with `--max-input-bytes` if this input is genuine")
    };
    if path.as_os_str() == "-" {
        std::io::stdin()
            .take(limits.max_file_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                Diagnostic::error(format!("cannot read stdin: {}", io_reason(&e)))
                    .at(Location::file(name.clone()))
            })?;
        if bytes.len() as u64 > limits.max_file_bytes {
            return Err(too_big(bytes.len() as u64));
        }
    } else {
        let meta = std::fs::metadata(path).map_err(|e| {
            Diagnostic::error(format!("cannot read `{name}`: {}", io_reason(&e)))
                .at(Location::file(name.clone()))
        })?;
        if meta.len() > limits.max_file_bytes {
            return Err(too_big(meta.len()));
        }
        let file = std::fs::File::open(path).map_err(|e| {
            Diagnostic::error(format!("cannot read `{name}`: {}", io_reason(&e)))
                .at(Location::file(name.clone()))
        })?;
        file.take(limits.max_file_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| {
                let mut d = Diagnostic::error(format!("cannot read `{name}`: {}", io_reason(&e)))
                    .at(Location::file(name.clone()));
                if e.raw_os_error() == Some(21) {
                    d = d.with_help("a folder was given where a file is needed");
                }
                d
            })?;
    }
    decode_text(bytes, &name)
}

/// Decodes an input's bytes: UTF-8 (a byte-order mark is skipped later), or UTF-16 when the text
/// starts with a UTF-16 byte-order mark, as `kubectl` reads it (Windows PowerShell's `>` writes
/// UTF-16LE with a BOM). Anything else is refused with the position of the first invalid byte.
pub fn decode_text(bytes: Vec<u8>, name: &str) -> Result<String, Diagnostic> {
    if let Some(big_endian) = utf16_bom(&bytes) {
        let mut r = Utf16Reader::new(&bytes[2..], big_endian);
        let mut text = String::new();
        return match r.read_to_string(&mut text) {
            Ok(_) => Ok(text),
            Err(e) => Err(Diagnostic::error(format!("cannot read `{name}`: {e}"))
                .at(Location::file(name.to_string()))
                .with_help("the file starts with a UTF-16 byte-order mark; save it as UTF-8")),
        };
    }
    String::from_utf8(bytes).map_err(|e| {
        let off = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(&e.as_bytes()[..off]);
        let line = text.matches('\n').count() + 1;
        let at = Location {
            file: name.to_string(),
            line: line as u32,
            column: (text.len() - text.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1) as u32,
            ..Default::default()
        };
        not_utf8(name, off, at, off == 0 && looks_utf16(e.as_bytes()))
    })
}

/// `Some(big_endian)` when bytes start with a UTF-16 byte-order mark.
pub(super) fn utf16_bom(bytes: &[u8]) -> Option<bool> {
    if bytes.starts_with(&[0xff, 0xfe]) {
        Some(false)
    } else if bytes.starts_with(&[0xfe, 0xff]) {
        Some(true)
    } else {
        None
    }
}

/// UTF-16 (after its byte-order mark) transcoded to UTF-8 as it is read, so a UTF-16 file streams
/// like any other. An unpaired surrogate or an odd number of bytes is an `InvalidData` error
/// naming the byte offset (counted from the start of the file).
pub(super) struct Utf16Reader<R> {
    inner: R,
    big_endian: bool,
    /// UTF-8 bytes decoded and not yet handed out.
    out: Vec<u8>,
    out_pos: usize,
    /// A byte of a code unit cut by a read boundary.
    odd: Option<u8>,
    /// A high surrogate waiting for its low half.
    high: Option<u16>,
    /// Bytes of input consumed (including the byte-order mark).
    offset: usize,
    eof: bool,
}

impl<R: Read> Utf16Reader<R> {
    fn new(inner: R, big_endian: bool) -> Self {
        Utf16Reader {
            inner,
            big_endian,
            out: Vec::new(),
            out_pos: 0,
            odd: None,
            high: None,
            offset: 2,
            eof: false,
        }
    }

    fn invalid(&self, what: &str) -> std::io::Error {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("invalid UTF-16 at byte {}: {what}", self.offset),
        )
    }

    /// Decodes the next block into `out`; false at the end of input.
    fn fill(&mut self) -> std::io::Result<bool> {
        let mut buf = [0u8; 1 << 15];
        self.out.clear();
        self.out_pos = 0;
        while self.out.is_empty() {
            if self.eof {
                return Ok(false);
            }
            let n = loop {
                match self.inner.read(&mut buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            };
            if n == 0 {
                self.eof = true;
                if self.odd.is_some() {
                    return Err(self.invalid("an odd number of bytes"));
                }
                if self.high.is_some() {
                    return Err(self.invalid("an unpaired surrogate at the end"));
                }
                return Ok(false);
            }
            let mut bytes = &buf[..n];
            while !bytes.is_empty() {
                let (a, b) = match self.odd.take() {
                    Some(a) => {
                        let b = bytes[0];
                        bytes = &bytes[1..];
                        (a, b)
                    }
                    None if bytes.len() >= 2 => {
                        let pair = (bytes[0], bytes[1]);
                        bytes = &bytes[2..];
                        pair
                    }
                    None => {
                        self.odd = Some(bytes[0]);
                        break;
                    }
                };
                let unit = if self.big_endian {
                    u16::from_be_bytes([a, b])
                } else {
                    u16::from_le_bytes([a, b])
                };
                let c = match (self.high.take(), unit) {
                    (None, 0xd800..=0xdbff) => {
                        self.high = Some(unit);
                        self.offset += 2;
                        continue;
                    }
                    (None, 0xdc00..=0xdfff) | (Some(_), 0..=0xdbff | 0xe000..) => {
                        return Err(self.invalid("an unpaired surrogate"));
                    }
                    (Some(h), low) => char::from_u32(
                        0x10000 + ((u32::from(h) - 0xd800) << 10) + (u32::from(low) - 0xdc00),
                    )
                    .expect("a valid surrogate pair"),
                    (None, u) => char::from_u32(u32::from(u)).expect("not a surrogate"),
                };
                self.offset += 2;
                let mut enc = [0u8; 4];
                self.out
                    .extend_from_slice(c.encode_utf8(&mut enc).as_bytes());
            }
        }
        Ok(true)
    }
}

impl<R: Read> Read for Utf16Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.out_pos >= self.out.len() && !self.fill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

/// Whether bytes start with a UTF-16 byte-order mark.
pub(super) fn looks_utf16(bytes: &[u8]) -> bool {
    bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff])
}

pub(super) fn not_utf8(name: &str, offset: usize, at: Location, utf16: bool) -> Diagnostic {
    Diagnostic::error(format!(
        "`{name}` is not UTF-8 text (invalid byte at offset {offset})"
    ))
    .at(at)
    .with_help(if utf16 {
        "this looks like UTF-16 (it starts with a byte-order mark); save it as UTF-8"
    } else {
        "Kubernetes manifests are UTF-8 YAML or JSON; is this a binary file?"
    })
}

/// The byte index of the first control character YAML does not allow (C0 controls other than
/// tab, line feed and carriage return). The YAML scanner reads a NUL as the end of input, so a
/// file with one would otherwise be silently cut short.
pub(super) fn forbidden_control(text: &str) -> Option<usize> {
    text.bytes()
        .position(|b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r'))
}

pub(super) fn control_char_error(name: &str, c: char, at: Location) -> Diagnostic {
    Diagnostic::error(format!(
        "`{name}` holds a control character (U+{:04X}), which YAML does not allow",
        c as u32
    ))
    .at(at)
    .with_help(if c == '\0' {
        "a NUL byte usually means a binary or UTF-16 file; save manifests as UTF-8"
    } else {
        "remove the character, or write it as an escape inside a double-quoted string"
    })
}

/// Opens a file for streaming, after the size check.
/// A file starting with a UTF-16 byte-order mark is transcoded to UTF-8 as it is read.
pub(super) fn open_input(path: &Path, limits: &Limits) -> Result<Box<dyn Read>, Diagnostic> {
    let name = display_path(path);
    let meta = std::fs::metadata(path).map_err(|e| {
        Diagnostic::error(format!("cannot read `{name}`: {}", io_reason(&e)))
            .at(Location::file(name.clone()))
    })?;
    if meta.len() > limits.max_file_bytes {
        return Err(Diagnostic::error(format!(
            "`{name}` is larger than the input limit ({} bytes > {} bytes)",
            meta.len(),
            limits.max_file_bytes
        ))
        .at(Location::file(name.clone()))
        .with_help("raise the limit with `--max-input-bytes` if this input is genuine"));
    }
    let file = std::fs::File::open(path).map_err(|e| {
        Diagnostic::error(format!("cannot read `{name}`: {}", io_reason(&e)))
            .at(Location::file(name.clone()))
    })?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    // A read error here is reported by the parser on its first read.
    let start = std::io::BufRead::fill_buf(&mut reader).map(|b| b.to_vec());
    match start.ok().and_then(|b| {
        // Two reads may be needed to see both bytes of the mark.
        if b.len() == 1 { None } else { utf16_bom(&b) }
    }) {
        Some(big_endian) => {
            std::io::BufRead::consume(&mut reader, 2);
            Ok(Box::new(Utf16Reader::new(reader, big_endian)))
        }
        None => Ok(Box::new(reader)),
    }
}

/// Where and why decoding a stream stopped early.
#[derive(Debug, Clone, Copy)]
pub(super) struct DecodeStop {
    pub(super) offset: usize,
    pub(super) line: usize,
    pub(super) column: usize,
    /// A control character YAML does not allow; `None`: invalid UTF-8.
    pub(super) control: Option<char>,
    /// The stream starts with a UTF-16 byte-order mark.
    pub(super) utf16: bool,
}

/// Characters decoded from a reader as they are needed (a block at a time); invalid UTF-8 ends
/// the stream and is reported with its position.
pub(super) struct StreamChars<R> {
    pub(super) reader: R,
    pub(super) chars: Vec<char>,
    pub(super) idx: usize,
    pub(super) carry: Vec<u8>,
    /// Bytes, lines and the column reached by the blocks decoded so far.
    pub(super) offset: usize,
    pub(super) line: usize,
    pub(super) column: usize,
    pub(super) started: bool,
    /// Where decoding stopped (byte offset, line, column) and, for a control character, which.
    pub(super) failed: std::rc::Rc<std::cell::Cell<Option<DecodeStop>>>,
    pub(super) error: std::rc::Rc<std::cell::RefCell<Option<String>>>,
    pub(super) eof: bool,
}

impl<R: Read> StreamChars<R> {
    fn advance_position(&mut self, text: &str) {
        self.offset += text.len();
        match text.rfind('\n') {
            Some(i) => {
                self.line += text.matches('\n').count();
                self.column = text[i + 1..].chars().count() + 1;
            }
            None => self.column += text.chars().count(),
        }
    }

    fn refill(&mut self) {
        let mut bytes = std::mem::take(&mut self.carry);
        let mut buf = vec![0u8; 1 << 16];
        let n = match self.reader.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                *self.error.borrow_mut() = Some(io_reason(&e));
                self.eof = true;
                return;
            }
        };
        if n == 0 {
            self.eof = true;
            if !bytes.is_empty() {
                self.failed.set(Some(DecodeStop {
                    offset: self.offset,
                    line: self.line,
                    column: self.column,
                    control: None,
                    utf16: looks_utf16(&bytes),
                }));
            }
            return;
        }
        bytes.extend_from_slice(&buf[..n]);
        let valid = match std::str::from_utf8(&bytes) {
            Ok(_) => bytes.len(),
            Err(e) => e.valid_up_to(),
        };
        let text = std::str::from_utf8(&bytes[..valid]).expect("valid prefix");
        if let Some(i) = forbidden_control(text) {
            // The parser would read a NUL as the end of input: stop here and say why.
            let (before, rest) = text.split_at(i);
            self.chars.clear();
            self.chars.extend(before.chars());
            self.idx = 0;
            let before = before.to_string();
            self.advance_position(&before);
            self.failed.set(Some(DecodeStop {
                offset: self.offset,
                line: self.line,
                column: self.column,
                control: rest.chars().next(),
                utf16: false,
            }));
            self.eof = true;
            return;
        }
        self.chars.clear();
        self.chars.extend(text.chars());
        self.idx = 0;
        let text = text.to_string();
        self.advance_position(&text);
        if valid < bytes.len() {
            let incomplete = std::str::from_utf8(&bytes[valid..])
                .err()
                .is_some_and(|e| e.error_len().is_none());
            if incomplete && bytes.len() - valid < 4 {
                // A character cut by the block boundary: keep it for the next block.
                self.carry = bytes[valid..].to_vec();
            } else {
                let utf16 = self.offset == 0 && looks_utf16(&bytes);
                self.failed.set(Some(DecodeStop {
                    offset: self.offset,
                    line: self.line,
                    column: self.column,
                    control: None,
                    utf16,
                }));
                self.eof = true;
            }
        }
    }
}

impl<R: Read> Iterator for StreamChars<R> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        loop {
            if let Some(&c) = self.chars.get(self.idx) {
                self.idx += 1;
                if !self.started {
                    self.started = true;
                    if c == '\u{feff}' {
                        continue;
                    }
                }
                return Some(c);
            }
            if self.eof {
                return None;
            }
            self.refill();
        }
    }
}
