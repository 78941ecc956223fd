//! Activation tokens (a license's own tokens) count the machines activated and deactivated with
//! them, up to the maxima they were made with. The license keeps the counts, so a token's limit
//! holds under parallel activations exactly as the license's machine limits do: in the same
//! decision, in the same commit.

use super::License;
use crate::{DomainError, TokenId};
use serde::{Deserialize, Serialize};

/// The activation token a machine command was made with, and its maxima.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActivationToken {
    pub id: TokenId,
    pub max_activations: Option<i64>,
    pub max_deactivations: Option<i64>,
}

/// A token's count after a machine command made with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUse {
    pub id: TokenId,
    pub count: i64,
}

/// What a license has counted of one of its tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCounts {
    pub activations: i64,
    pub deactivations: i64,
}

/// Which of a token's counts a command moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Count {
    Activations,
    Deactivations,
}

impl License {
    /// The next count of `token` for one more `count`, within its maximum (Keygen's
    /// `ACTIVATIONS_LIMIT_EXCEEDED` / `DEACTIVATIONS_LIMIT_EXCEEDED`).
    pub(super) fn use_token(
        &self,
        token: Option<&ActivationToken>,
        count: Count,
    ) -> Result<Option<TokenUse>, DomainError> {
        let Some(token) = token else { return Ok(None) };
        let counts = self.token_counts.get(token.id.as_str()).copied().unwrap_or_default();
        let (used, max, attribute) = match count {
            Count::Activations => (counts.activations, token.max_activations, "activations"),
            Count::Deactivations => (counts.deactivations, token.max_deactivations, "deactivations"),
        };
        let next = used + 1;
        if let Some(max) = max.filter(|max| next > *max) {
            return Err(DomainError::invalid(
                attribute,
                "LIMIT_EXCEEDED",
                format!("exceeds maximum allowed ({max})"),
            ));
        }
        Ok(Some(TokenUse {
            id: token.id.clone(),
            count: next,
        }))
    }

    /// Records a token's new count.
    pub(super) fn count_token(&mut self, token: &Option<TokenUse>, count: Count) {
        let Some(token) = token else { return };
        let counts = self.token_counts.entry(token.id.to_string()).or_default();
        match count {
            Count::Activations => counts.activations = token.count,
            Count::Deactivations => counts.deactivations = token.count,
        }
    }
}
