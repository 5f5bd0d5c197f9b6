//! Why a model directory could not be opened or loaded.

use std::path::PathBuf;

/// Why a model directory could not be used; every variant names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The path is not a directory.
    #[error(
        "the model directory {} does not exist or is not a directory",
        path.display()
    )]
    NotADirectory {
        /// The path given.
        path: PathBuf,
    },
    /// A file the model needs is not in the directory.
    #[error(
        "the model directory has no {}: a sentence-transformers model directory holds \
         config.json, tokenizer.json and model.safetensors",
        path.display()
    )]
    MissingFile {
        /// The file that was looked for.
        path: PathBuf,
    },
    /// A file is there but could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A file is there but its content is not what it should be.
    #[error("{} is malformed: {detail}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// The file is well formed but describes a model this crate does not run.
    #[error("{} describes an unsupported model: {detail}", path.display())]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is not supported.
        detail: String,
    },
}
