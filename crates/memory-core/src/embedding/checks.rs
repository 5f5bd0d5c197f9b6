//! What a vector store accepts, the same for every backend: a space's embedder id and
//! dimension, finite vectors that are not all zero, and between one and [`MAX_CHUNKS`]
//! vectors per episode.

use super::MAX_CHUNKS;
use crate::{EpisodeVectors, MemoryError, ValidationError};

/// The largest dimension a store's vectors can have.
pub const MAX_DIMENSION: usize = 65_536;

/// The longest embedder id a store accepts, in characters.
pub const MAX_EMBEDDER_ID: usize = 256;

/// Checks the embedder id and dimension a space is declared with.
pub fn check_space(embedder: &str, dimension: usize) -> Result<(), ValidationError> {
    if embedder.trim().is_empty() {
        return Err(ValidationError::new("embedder", "is empty"));
    }
    let chars = embedder.chars().count();
    if chars > MAX_EMBEDDER_ID {
        return Err(ValidationError::new(
            "embedder",
            format!("is {chars} characters; the limit is {MAX_EMBEDDER_ID}"),
        ));
    }
    if !(1..=MAX_DIMENSION).contains(&dimension) {
        return Err(ValidationError::new(
            "dimension",
            format!("is {dimension}; it must be between 1 and {MAX_DIMENSION}"),
        ));
    }
    Ok(())
}

/// Checks that a vector can be stored: every component finite, not all zero.
pub fn check_vector(field: impl FnOnce() -> String, v: &[f32]) -> Result<(), ValidationError> {
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        return Err(ValidationError::new(
            field(),
            format!("component {i} is {}; vectors must be finite", v[i]),
        ));
    }
    if v.iter().all(|x| *x == 0.0) {
        return Err(ValidationError::new(
            field(),
            "is a zero vector; cosine similarity is undefined for it",
        ));
    }
    Ok(())
}

/// Checks an episode's chunk vectors: between 1 and [`MAX_CHUNKS`], each finite and not zero.
pub fn check_chunks(
    field: impl Fn() -> String,
    chunks: &[Vec<f32>],
) -> Result<(), ValidationError> {
    if chunks.is_empty() || chunks.len() > MAX_CHUNKS {
        return Err(ValidationError::new(
            field(),
            format!(
                "has {} vectors; an episode has between 1 and {MAX_CHUNKS}",
                chunks.len()
            ),
        ));
    }
    for (c, v) in chunks.iter().enumerate() {
        check_vector(|| format!("{}[{c}]", field()), v)?;
    }
    Ok(())
}

/// The error for vectors stored before the store declared a vector space.
pub fn no_space() -> MemoryError {
    MemoryError::Conflict(
        "no vector space declared; declare one (`ensure_vector_space`) before storing vectors"
            .into(),
    )
}

/// The error for a vector of dimension `got` in a store whose vectors, from `embedder`, have
/// `dimension`.
pub fn wrong_dimension(field: String, got: usize, embedder: &str, dimension: usize) -> MemoryError {
    ValidationError::new(
        field,
        format!("has dimension {got}; the store's vectors (from `{embedder}`) have dimension {dimension}"),
    )
    .into()
}

/// Checks episode vectors about to be stored against the store's space (`space_embedder`,
/// `dimension`): written by that embedder (another means they were re-embedded since the
/// caller looked), every chunk of that dimension.
pub fn check_against_space(
    embedder: &str,
    space_embedder: &str,
    dimension: usize,
    vectors: &[EpisodeVectors],
) -> Result<(), MemoryError> {
    if space_embedder != embedder {
        return Err(MemoryError::Conflict(format!(
            "the store's vectors come from `{space_embedder}` (dimension {dimension}), not \
             `{embedder}`; they were re-embedded since this process started"
        )));
    }
    for (i, (_, chunks)) in vectors.iter().enumerate() {
        if let Some((c, v)) = chunks
            .iter()
            .enumerate()
            .find(|(_, v)| v.len() != dimension)
        {
            return Err(wrong_dimension(
                format!("vectors[{i}][{c}]"),
                v.len(),
                space_embedder,
                dimension,
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_checked() {
        assert!(check_vector(|| "v".into(), &[0.0, 1.0]).is_ok());
        let zero = check_vector(|| "v".into(), &[0.0, 0.0]).err();
        assert!(zero.is_some_and(|e| e.problem.contains("zero vector")));
        let nan = check_vector(|| "vectors[2]".into(), &[1.0, f32::NAN]).err();
        assert!(nan.is_some_and(|e| e.field == "vectors[2]" && e.problem.contains("component 1")));
        assert!(check_space("hash-v1-384", 384).is_ok());
        assert!(check_space("", 384).is_err());
        assert!(check_space("x", 0).is_err());
        assert!(check_space("x", MAX_DIMENSION + 1).is_err());
    }
}
