//! Function code: a deployment package (zip) unpacked into a directory of its own, with the
//! digest and size AWS reports (`CodeSha256` is the base64 SHA-256 of the zip; `CodeSize` its
//! bytes).

use std::io::{Cursor, Read as _};
use std::path::{Component, Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// The largest zip CreateFunction and UpdateFunctionCode take in the request (AWS: 50 MB).
pub const MAX_ZIP_BYTES: usize = 50 * 1024 * 1024;
/// The largest unpacked size (AWS: 250 MB, layers included).
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;

/// Why a package could not be unpacked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeError {
    /// Not a zip archive, or a damaged one.
    NotAZip,
    /// Over [`MAX_UNZIPPED_BYTES`].
    TooLarge,
    /// The archive could not be written out.
    Io(String),
}

/// An unpacked package. Its directory is removed when the last holder (the function's
/// `$LATEST`, a published version) lets go of it.
#[derive(Debug)]
pub struct Code {
    pub dir: PathBuf,
    /// Base64 SHA-256 of the zip.
    pub sha256: String,
    pub size: u64,
}

impl Drop for Code {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The base64 SHA-256 of `bytes`, as `CodeSha256` reports it.
pub fn sha256_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

/// Unpacks `zip` into `dir` (created; must not exist), keeping the archive's file modes (a
/// `bootstrap` stays executable). Entries that would land outside `dir` are refused.
pub fn unpack(zip: &[u8], dir: &Path) -> Result<Code, CodeError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(zip)).map_err(|_| CodeError::NotAZip)?;
    let declared: u64 = (0..archive.len())
        .filter_map(|i| archive.by_index_raw(i).ok().map(|f| f.size()))
        .sum();
    if declared > MAX_UNZIPPED_BYTES {
        return Err(CodeError::TooLarge);
    }
    std::fs::create_dir_all(dir).map_err(|e| CodeError::Io(e.to_string()))?;
    let mut written: u64 = 0;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|_| CodeError::NotAZip)?;
        let Some(rel) = entry.enclosed_name() else {
            continue;
        };
        if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
            continue;
        }
        let path = dir.join(&rel);
        if entry.is_dir() {
            std::fs::create_dir_all(&path).map_err(|e| CodeError::Io(e.to_string()))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| CodeError::Io(e.to_string()))?;
        }
        let mut data = Vec::with_capacity(usize::try_from(entry.size()).unwrap_or(0).min(1 << 24));
        // Read one byte past the budget: an entry that lies about its size is caught.
        let budget = MAX_UNZIPPED_BYTES - written + 1;
        (&mut entry)
            .take(budget)
            .read_to_end(&mut data)
            .map_err(|_| CodeError::NotAZip)?;
        written += data.len() as u64;
        if written > MAX_UNZIPPED_BYTES {
            return Err(CodeError::TooLarge);
        }
        std::fs::write(&path, &data).map_err(|e| CodeError::Io(e.to_string()))?;
        let mode = entry.unix_mode().unwrap_or(0o644) & 0o777;
        // Readable by the owner at least; executables stay executable.
        let mode = if mode == 0 { 0o644 } else { mode | 0o400 };
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| CodeError::Io(e.to_string()))?;
    }
    Ok(Code {
        dir: dir.to_owned(),
        sha256: sha256_base64(zip),
        size: zip.len() as u64,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write as _;

    use super::*;

    pub(crate) fn zip_of(files: &[(&str, &str, u32)]) -> Vec<u8> {
        let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, body, mode) in files {
            let opts = zip::write::SimpleFileOptions::default().unix_permissions(*mode);
            w.start_file(*name, opts).unwrap();
            w.write_all(body.as_bytes()).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    #[test]
    fn unpacks_with_modes_and_refuses_garbage() {
        let zip = zip_of(&[("app.py", "x = 1\n", 0o644), ("bin/bootstrap", "#!/bin/sh\n", 0o755)]);
        let dir = std::env::temp_dir().join(format!("lb-code-{}-{}", std::process::id(), lb_core::ids::random_u64()));
        let code = unpack(&zip, &dir).unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("app.py")).unwrap(), "x = 1\n");
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join("bin/bootstrap"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(code.size, zip.len() as u64);
        assert_eq!(code.sha256, sha256_base64(&zip));
        assert_eq!(unpack(b"not a zip", &dir.join("x")).unwrap_err(), CodeError::NotAZip);
        drop(code);
        assert!(!dir.exists(), "the directory goes with the code");
    }
}
