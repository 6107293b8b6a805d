//! A GGUF sanity check done in Rust before llama.cpp sees the file.
//!
//! llama.cpp trusts its input more than a command-line tool can: a file that is not a GGUF, or
//! one cut short by an interrupted download, should end in a clear message, not in whatever the
//! C++ loader does. So the header, every metadata entry and every tensor record are walked with
//! bounds checks, and the tensor data the records point at must lie inside the file.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use crate::{Error, Result};

const MAGIC: &[u8; 4] = b"GGUF";
const DEFAULT_ALIGNMENT: u64 = 32;

/// What the check learned about a file that passed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GgufSummary {
    /// Format version (2 or 3).
    pub version: u32,
    /// `general.architecture`, if present.
    pub architecture: Option<String>,
    /// Number of tensors.
    pub tensors: u64,
    /// Number of metadata entries.
    pub metadata: u64,
}

/// Checks that `path` is a complete GGUF file: magic, version, metadata and tensor records
/// readable, tensor data inside the file.
///
/// ```no_run
/// let summary = taboo_llm::check_gguf_file("models/SmolLM2-135M-Instruct-Q4_1.gguf".as_ref())?;
/// assert_eq!(summary.architecture.as_deref(), Some("llama"));
/// # Ok::<(), taboo_llm::Error>(())
/// ```
pub fn check_gguf_file(path: &Path) -> Result<GgufSummary> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::ModelMissing {
                path: path.to_path_buf(),
            })
        }
        Err(source) => {
            return Err(Error::Io {
                path: path.to_path_buf(),
                source,
            })
        }
    };
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = file.metadata().map_err(io)?;
    if meta.is_dir() {
        return Err(Error::NotGguf {
            path: path.to_path_buf(),
            reason: "it is a directory".into(),
        });
    }
    let mut r = Reader {
        inner: BufReader::new(file),
        len: meta.len(),
    };
    r.walk().map_err(|reason| Error::NotGguf {
        path: path.to_path_buf(),
        reason,
    })
}

struct Reader {
    inner: BufReader<File>,
    len: u64,
}

type Check<T> = std::result::Result<T, String>;

const TRUNCATED: &str =
    "the file ends too early (truncated download? run scripts/fetch-models.sh again)";

impl Reader {
    fn walk(&mut self) -> Check<GgufSummary> {
        let mut magic = [0u8; 4];
        self.bytes(&mut magic)
            .map_err(|_| "the file is shorter than a GGUF header".to_string())?;
        if &magic != MAGIC {
            return Err(format!(
                "it does not start with the GGUF magic (found {:?})",
                String::from_utf8_lossy(&magic)
            ));
        }
        let version = self.u32()?;
        if !(2..=3).contains(&version) {
            return Err(format!("unsupported GGUF version {version}"));
        }
        let tensors = self.u64()?;
        let metadata = self.u64()?;
        // Each record takes at least a few bytes, so counts beyond the file size are lies.
        if tensors > self.len || metadata > self.len {
            return Err("the header counts are larger than the file".into());
        }
        let mut architecture = None;
        let mut alignment = DEFAULT_ALIGNMENT;
        for _ in 0..metadata {
            let key = self.string()?;
            let ty = self.u32()?;
            match (key.as_str(), ty) {
                ("general.architecture", 8) => architecture = Some(self.string()?),
                ("general.alignment", 4) => alignment = u64::from(self.u32()?).max(1),
                _ => self.skip_value(ty, 0)?,
            }
        }
        let mut data_end = 0u64;
        for _ in 0..tensors {
            let name = self.string()?;
            let dims = self.u32()?;
            if dims > 8 {
                return Err(format!("tensor '{name}' claims {dims} dimensions"));
            }
            let mut elements = 1u64;
            for _ in 0..dims {
                elements = elements.saturating_mul(self.u64()?);
            }
            let ty = self.u32()?;
            let offset = self.u64()?;
            let size = tensor_bytes(ty, elements).unwrap_or(0);
            data_end = data_end.max(offset.saturating_add(size));
        }
        let here = self.inner.stream_position().map_err(|e| e.to_string())?;
        let data_start = here.div_ceil(alignment).saturating_mul(alignment);
        if tensors > 0 && data_start.saturating_add(data_end) > self.len {
            return Err(format!(
                "the tensor data needs {} bytes but the file has {} (truncated download? run \
                 scripts/fetch-models.sh again)",
                data_start.saturating_add(data_end),
                self.len
            ));
        }
        Ok(GgufSummary {
            version,
            architecture,
            tensors,
            metadata,
        })
    }

    fn bytes(&mut self, buf: &mut [u8]) -> Check<()> {
        self.inner
            .read_exact(buf)
            .map_err(|_| TRUNCATED.to_string())
    }

    fn u32(&mut self) -> Check<u32> {
        let mut b = [0u8; 4];
        self.bytes(&mut b)?;
        Ok(u32::from_le_bytes(b))
    }

    fn u64(&mut self) -> Check<u64> {
        let mut b = [0u8; 8];
        self.bytes(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    fn skip(&mut self, n: u64) -> Check<()> {
        let here = self.inner.stream_position().map_err(|e| e.to_string())?;
        if here.saturating_add(n) > self.len {
            return Err(TRUNCATED.into());
        }
        self.inner
            .seek(SeekFrom::Current(n as i64))
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    fn string(&mut self) -> Check<String> {
        let n = self.u64()?;
        if n > 1 << 20 {
            // Keys and names are short; a huge length is a corrupt file, not a long name.
            let here = self.inner.stream_position().map_err(|e| e.to_string())?;
            if here.saturating_add(n) > self.len {
                return Err(TRUNCATED.into());
            }
            return Err(format!("a metadata string claims {n} bytes"));
        }
        let mut b = vec![0u8; n as usize];
        self.bytes(&mut b)?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    fn skip_value(&mut self, ty: u32, depth: u32) -> Check<()> {
        match ty {
            0 | 1 | 7 => self.skip(1),
            2 | 3 => self.skip(2),
            4..=6 => self.skip(4),
            10..=12 => self.skip(8),
            8 => {
                let n = self.u64()?;
                self.skip(n)
            }
            9 if depth == 0 => {
                let item = self.u32()?;
                let n = self.u64()?;
                if n > self.len {
                    return Err(TRUNCATED.into());
                }
                match fixed_size(item) {
                    Some(size) => self.skip(n.saturating_mul(size)),
                    None => (0..n).try_for_each(|_| self.skip_value(item, depth + 1)),
                }
            }
            _ => Err(format!("unknown metadata value type {ty}")),
        }
    }
}

fn fixed_size(ty: u32) -> Option<u64> {
    match ty {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

/// Bytes of tensor data for the ggml types in common use (block size, bytes per block from
/// ggml-common.h). Rare types return `None` and are left for llama.cpp's own bounds check.
fn tensor_bytes(ty: u32, elements: u64) -> Option<u64> {
    let (block, bytes) = match ty {
        0 => (1, 4),       // F32
        1 | 30 => (1, 2),  // F16, BF16
        2 => (32, 18),     // Q4_0
        3 => (32, 20),     // Q4_1
        6 => (32, 22),     // Q5_0
        7 => (32, 24),     // Q5_1
        8 => (32, 34),     // Q8_0
        10 => (256, 84),   // Q2_K
        11 => (256, 110),  // Q3_K
        12 => (256, 144),  // Q4_K
        13 => (256, 176),  // Q5_K
        14 => (256, 210),  // Q6_K
        24 => (1, 1),      // I8
        25 => (1, 2),      // I16
        26 => (1, 4),      // I32
        27 | 28 => (1, 8), // I64, F64
        _ => return None,
    };
    Some(elements.div_ceil(block).saturating_mul(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gguf_string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u64).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
    }

    /// A header with one string entry and one F32 tensor of 4 elements.
    fn tiny(arch: &str) -> Vec<u8> {
        let mut v = b"GGUF".to_vec();
        v.extend_from_slice(&3u32.to_le_bytes());
        v.extend_from_slice(&1u64.to_le_bytes());
        v.extend_from_slice(&1u64.to_le_bytes());
        gguf_string(&mut v, "general.architecture");
        v.extend_from_slice(&8u32.to_le_bytes());
        gguf_string(&mut v, arch);
        gguf_string(&mut v, "w");
        v.extend_from_slice(&1u32.to_le_bytes());
        v.extend_from_slice(&4u64.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&0u64.to_le_bytes());
        while v.len() % 32 != 0 {
            v.push(0);
        }
        v.extend_from_slice(&[0u8; 16]);
        v
    }

    fn write(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("taboo-gguf-{}-{name}", std::process::id()));
        File::create(&path).unwrap().write_all(bytes).unwrap();
        path
    }

    #[test]
    fn complete_file_passes_and_names_its_architecture() {
        let p = write("ok", &tiny("llama"));
        let s = check_gguf_file(&p).unwrap();
        assert_eq!(s.architecture.as_deref(), Some("llama"));
        assert_eq!((s.version, s.tensors, s.metadata), (3, 1, 1));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let full = tiny("llama");
        for cut in 0..full.len() {
            let p = write("cut", &full[..cut]);
            assert!(
                matches!(check_gguf_file(&p), Err(Error::NotGguf { .. })),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn wrong_magic_and_missing_file() {
        let p = write("text", b"hello, this is not a model at all");
        let e = check_gguf_file(&p).unwrap_err().to_string();
        assert!(e.contains("GGUF magic"), "{e}");
        let e = check_gguf_file(Path::new("/nonexistent/model.gguf")).unwrap_err();
        assert!(matches!(e, Error::ModelMissing { .. }));
        assert!(e.to_string().contains("scripts/fetch-models.sh"));
    }
}
