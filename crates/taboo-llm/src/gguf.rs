//! The GGUF check done in Rust before llama.cpp sees the file.
//!
//! llama.cpp trusts its input more than a command-line tool can: a file that is not a GGUF, or
//! one cut short by an interrupted download, should end in a clear message, not in whatever the
//! C++ loader does. The check itself is the core crate's GGUF reader
//! ([`taboo::vocab::check_gguf_file`]), the same one that loads vocabularies; this module only
//! turns its answer into the runtime's [`Error`], telling a missing file from a foreign one.

use std::io::ErrorKind;
use std::path::Path;

use taboo::GgufMetadata;

use crate::{Error, Result};

/// Checks that `path` is a complete GGUF file: magic, version, metadata and tensor records
/// readable, tensor data inside the file. Returns the file's metadata.
///
/// A missing file is [`Error::ModelMissing`]; anything the reader refuses is
/// [`Error::NotGguf`].
///
/// ```no_run
/// let meta = taboo_llm::check_gguf_file("models/SmolLM2-135M-Instruct-Q4_1.gguf".as_ref())?;
/// assert_eq!(meta.architecture.as_deref(), Some("llama"));
/// # Ok::<(), taboo_llm::Error>(())
/// ```
pub fn check_gguf_file(path: &Path) -> Result<GgufMetadata> {
    // The core reader reports a missing file as an I/O error like any other; the runtime has a
    // distinct error for it (an application can say how to get the model), so it looks first.
    match std::fs::metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => {
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
        Ok(_) => {}
    }
    taboo::vocab::check_gguf_file(path).map_err(|source| Error::NotGguf {
        path: path.to_path_buf(),
        source,
    })
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
        std::fs::File::create(&path)
            .unwrap()
            .write_all(bytes)
            .unwrap();
        path
    }

    #[test]
    fn complete_file_passes_and_names_its_architecture() {
        let p = write("ok", &tiny("llama"));
        let meta = check_gguf_file(&p).unwrap();
        assert_eq!(meta.architecture.as_deref(), Some("llama"));
        assert_eq!((meta.version, meta.tensor_count, meta.kv_count), (3, 1, 1));
    }

    #[test]
    fn every_truncation_is_an_error_that_says_what_to_do() {
        let full = tiny("llama");
        for cut in 0..full.len() {
            let p = write("cut", &full[..cut]);
            let e = check_gguf_file(&p).unwrap_err();
            assert!(matches!(e, Error::NotGguf { .. }), "cut at {cut}: {e}");
            if cut > 0 {
                let e = e.to_string();
                assert!(e.contains("truncated") && e.contains("incomplete"), "{e}");
            }
        }
    }

    #[test]
    fn a_directory_or_a_device_is_not_a_file() {
        let e = check_gguf_file(&std::env::temp_dir()).unwrap_err();
        assert!(matches!(e, Error::NotGguf { .. }), "{e}");
        assert!(e.to_string().contains("it is a directory"), "{e}");
        let e = check_gguf_file(Path::new("/dev/zero"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("it is a character device, not a regular file"),
            "{e}"
        );
    }

    #[test]
    fn wrong_magic_and_missing_file() {
        let p = write("text", b"hello, this is not a model at all");
        let e = check_gguf_file(&p).unwrap_err().to_string();
        assert!(e.contains("GGUF magic"), "{e}");
        let e = check_gguf_file(Path::new("/nonexistent/model.gguf")).unwrap_err();
        assert!(matches!(e, Error::ModelMissing { .. }));
        assert!(e.to_string().contains("not found"), "{e}");
    }
}
