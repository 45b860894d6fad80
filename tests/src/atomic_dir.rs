//! A directory updated the way kubelet updates a mounted Secret or
//! ConfigMap: each version in its own `..<n>` directory, `..data` a symlink
//! to the current one swapped by an atomic rename, and every file a symlink
//! through `..data`. Readers see the old set or the new set, never a mix.

use std::path::{Path, PathBuf};

use tempfile::TempDir;

pub struct AtomicDir {
    root: TempDir,
    generation: u32,
}

impl AtomicDir {
    /// A directory holding `files` (name, content).
    pub fn new(files: &[(&str, &str)]) -> AtomicDir {
        let mut dir = AtomicDir {
            root: tempfile::tempdir().expect("temporary directory"),
            generation: 0,
        };
        dir.update(files);
        for (name, _) in files {
            std::os::unix::fs::symlink(Path::new("..data").join(name), dir.path().join(name))
                .expect("file symlink");
        }
        dir
    }

    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// The visible path of file `name`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path().join(name)
    }

    /// Publishes a new version holding `files` (the same names as before).
    pub fn update(&mut self, files: &[(&str, &str)]) {
        self.generation += 1;
        let version = format!("..{}", self.generation);
        let dir = self.path().join(&version);
        std::fs::create_dir(&dir).expect("version directory");
        for (name, content) in files {
            std::fs::write(dir.join(name), content).expect("version file");
        }
        let staged = self.path().join("..data_tmp");
        std::os::unix::fs::symlink(&version, &staged).expect("staged symlink");
        std::fs::rename(&staged, self.path().join("..data")).expect("atomic swap");
    }
}
