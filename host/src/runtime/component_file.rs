//! Component files as the watcher meets them: which files in the folder are
//! components, how one is read without trusting it (a size cap, regular
//! files only, no waiting on a FIFO), and its digest, computed once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::cache::sha256_hex;

/// Largest component file read. Components are a few MiB (tens when they
/// bundle an interpreter); a bigger file is refused without being read, so
/// a stray disk image in the folder cannot exhaust the host's memory.
pub const MAX_COMPONENT_BYTES: u64 = 256 << 20;

/// The bytes of a component and their hex sha256: hashed once, here, and
/// used by the watcher (to skip unchanged content), the policy (pinned
/// digests) and the compiled-code cache (its key).
#[derive(Clone, PartialEq, Eq)]
pub struct ComponentFile {
    pub bytes: Vec<u8>,
    pub digest: String,
}

impl ComponentFile {
    /// The component file at `path`, read as [`read_component`] does with
    /// [`MAX_COMPONENT_BYTES`], and hashed.
    pub fn read(path: &Path) -> std::io::Result<Self> {
        read_component(path, MAX_COMPONENT_BYTES).map(Self::from)
    }
}

/// Bytes from anywhere else (tests, benchmarks): hashed here.
impl From<Vec<u8>> for ComponentFile {
    fn from(bytes: Vec<u8>) -> Self {
        let digest = sha256_hex(&bytes);
        Self { bytes, digest }
    }
}

impl std::fmt::Debug for ComponentFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComponentFile")
            .field("len", &self.bytes.len())
            .field("digest", &self.digest)
            .finish()
    }
}

/// Size and modification time: what tells the watcher a file may have
/// changed without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    len: u64,
    modified: Option<SystemTime>,
}

impl Fingerprint {
    fn of(meta: &std::fs::Metadata) -> Self {
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
        }
    }

    /// The fingerprint of `path`, `None` if it does not exist.
    pub fn of_path(path: &Path) -> Option<Self> {
        std::fs::metadata(path).ok().map(|meta| Self::of(&meta))
    }
}

/// `*.wasm` regular files directly in `dir` (hidden files are skipped, so a
/// copy to `.name.wasm` then a rename is atomic from our point of view).
pub fn list_wasm_files(dir: &Path) -> std::io::Result<HashMap<PathBuf, Fingerprint>> {
    let mut files = HashMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || path.extension().is_none_or(|ext| ext != "wasm") {
            continue;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if meta.is_file() {
            files.insert(path, Fingerprint::of(&meta));
        }
    }
    Ok(files)
}

/// The bytes of the file at `path`: a regular file (judged on the opened
/// file, so one swapped for a FIFO or a device after the listing is not
/// read) of at most `max` bytes (also while reading: it may grow).
fn read_component(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::{Error, ErrorKind, Read};
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    // Opening a FIFO must not wait for a writer.
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            "it is not a regular file",
        ));
    }
    let too_big = || {
        Error::new(
            ErrorKind::FileTooLarge,
            format!("it is larger than the {} MiB a component may be", max >> 20),
        )
    };
    if meta.len() > max {
        return Err(too_big());
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_big());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_regular_file_up_to_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wasm");
        std::fs::write(&path, b"0123456789").unwrap();
        assert_eq!(read_component(&path, 10).unwrap(), b"0123456789");
        let error = read_component(&path, 9).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::FileTooLarge);
        assert!(error.to_string().contains("larger than"), "{error}");
    }

    #[test]
    fn a_huge_sparse_file_is_refused_unread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.wasm");
        std::fs::File::create(&path)
            .unwrap()
            .set_len(1 << 40)
            .unwrap();
        let error = read_component(&path, MAX_COMPONENT_BYTES).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::FileTooLarge);
    }

    #[cfg(unix)]
    #[test]
    fn devices_and_fifos_are_refused_without_blocking() {
        let error = read_component(Path::new("/dev/zero"), MAX_COMPONENT_BYTES).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo.wasm");
        let name = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o600) }, 0);
        let error = read_component(&fifo, MAX_COMPONENT_BYTES).unwrap_err();
        assert!(error.to_string().contains("not a regular file"), "{error}");
    }

    #[test]
    fn the_digest_is_the_sha256_of_the_bytes_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.wasm");
        std::fs::write(&path, b"abc").unwrap();
        let file = ComponentFile::read(&path).unwrap();
        assert_eq!(file.bytes, b"abc");
        assert_eq!(
            file.digest,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(ComponentFile::from(b"abc".to_vec()), file);
    }
}
