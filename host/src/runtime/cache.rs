//! Compiled components on disk, so a restart does not recompile.
//!
//! Key: sha256 of the `.wasm` bytes plus a digest of the engine's
//! compatibility hash (wasmtime version, target, settings). A file compiled by
//! another engine is never loaded; a corrupt entry is deleted and rebuilt.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Creates `dir` (mode 0700) if needed and checks that only this user can
/// write it: its entries are native code loaded without re-validation.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(dir)?;
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me || meta.mode() & 0o022 != 0 {
            return Err(std::io::Error::other(format!(
                "it must be owned by this user (uid {me}) and writable by no one else"
            )));
        }
    }
    Ok(())
}

/// Where compiled code came from, for logs and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Compiled,
    Cache,
}

pub struct CompiledCache {
    dir: Option<PathBuf>,
    engine_key: String,
}

impl CompiledCache {
    /// A cache in `dir`, or none (always compile) if `dir` is `None` or
    /// cannot be created, which is logged once.
    pub fn new(dir: Option<PathBuf>, engine: &Engine) -> Self {
        let dir = dir.and_then(|dir| match private_dir(&dir) {
            Ok(()) => Some(dir),
            Err(error) => {
                tracing::warn!(dir = %dir.display(), %error, "compiled-code cache disabled");
                None
            }
        });
        Self {
            dir,
            engine_key: engine_key(engine),
        }
    }

    /// Compiles `wasm` (whose sha256 is `digest`), or loads it from the cache.
    /// Blocking: call from a blocking thread.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
        digest: &str,
    ) -> wasmtime::Result<(Component, Origin)> {
        let Some(entry) = self.entry(digest) else {
            return Ok((Component::new(engine, wasm)?, Origin::Compiled));
        };
        if let Some(component) = self.cached(engine, digest) {
            return Ok((component, Origin::Cache));
        }
        let compiled = engine.precompile_component(wasm)?;
        if let Err(error) = write_atomically(&entry, &compiled) {
            tracing::warn!(entry = %entry.display(), %error, "cannot write compiled-code cache entry");
        }
        // SAFETY: `compiled` was produced just now by this engine.
        let component = unsafe { Component::deserialize(engine, &compiled)? };
        Ok((component, Origin::Compiled))
    }

    /// The cached compiled code for `digest`, if there is a usable entry.
    /// Blocking: call from a blocking thread.
    pub fn cached(&self, engine: &Engine, digest: &str) -> Option<Component> {
        let entry = self.entry(digest)?;
        let bytes = std::fs::read(&entry).ok()?;
        // Read into memory rather than `deserialize_file`'s mmap: a file
        // changed in place under a live mapping kills the process (SIGBUS).
        // SAFETY: the entry was written by `precompile_component` of an
        // engine with the same compatibility key, into a folder only this
        // host writes; wasmtime checks the header and version again.
        match unsafe { Component::deserialize(engine, &bytes) } {
            Ok(component) => Some(component),
            Err(error) => {
                tracing::warn!(entry = %entry.display(), %error, "discarding unusable compiled-code cache entry");
                let _ = std::fs::remove_file(&entry);
                None
            }
        }
    }

    fn entry(&self, digest: &str) -> Option<PathBuf> {
        let dir = self.dir.as_ref()?;
        Some(dir.join(format!("{digest}-{}.cwasm", self.engine_key)))
    }
}

/// Hex sha256 of some bytes.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A short, stable digest of everything that makes compiled code compatible.
fn engine_key(engine: &Engine) -> String {
    let mut hasher = Sha256Hasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    hex::encode(&hasher.0.finalize()[..8])
}

/// Lets `Hash` impls feed sha256, which (unlike `DefaultHasher`) is stable
/// across builds and processes.
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn finish(&self) -> u64 {
        // Only `write` is used; the digest is read from the inner state.
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // Unique per write: two compiles of the same bytes in one process (a
    // file replaced A, B, A) must not truncate each other's temporary file.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp-{}-{n}", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
