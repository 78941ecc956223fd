//! Where a release's version and tag are unique (its product and package), and the claims that
//! make them so.

use crate::{claims, ClaimOp, PackageId, ProductId, Subject};
use serde::{Deserialize, Serialize};

/// Where a release's version and tag are unique: its product, and its package or none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseLine {
    pub product_id: ProductId,
    pub package_id: Option<PackageId>,
}

impl ReleaseLine {
    pub(super) fn scope(&self, prefix: &str) -> String {
        let package = self.package_id.as_ref().map(|p| p.as_str()).unwrap_or("");
        format!("{prefix}{}:{package}", self.product_id)
    }

    /// The claims of a release of `version` tagged `tag` on this line.
    pub(super) fn claims(&self, version: &str, tag: Option<&str>) -> Vec<ClaimOp> {
        let mut out = vec![ClaimOp::Add {
            scope: self.scope(claims::RELEASE_VERSION),
            value: claims::digest(version),
            code: "VERSION_TAKEN",
            detail: "version already exists",
            subject: Subject::Attribute("version".into()),
        }];
        out.extend(self.tag_claims(tag));
        out
    }

    /// The tag's claim on this line, after releasing the one held there before.
    pub(super) fn tag_claims(&self, tag: Option<&str>) -> Vec<ClaimOp> {
        let scope = self.scope(claims::RELEASE_TAG);
        let mut out = vec![ClaimOp::Replace {
            scope: scope.clone(),
            value: None,
            code: "TAG_TAKEN",
            attribute: "tag",
        }];
        if let Some(tag) = tag {
            out.push(ClaimOp::Add {
                scope,
                value: claims::digest(tag),
                code: "TAG_TAKEN",
                detail: "tag already exists",
                subject: Subject::Attribute("tag".into()),
            });
        }
        out
    }

    /// What a release on this line requires and joins.
    pub(super) fn requirements(&self) -> Vec<ClaimOp> {
        let mut out = vec![
            ClaimOp::Require {
                scope: claims::PRODUCT_LIVE.into(),
                value: self.product_id.to_string(),
                code: "PRODUCT_NOT_FOUND",
                relationship: "product",
            },
            ClaimOp::Join {
                prefix: claims::PRODUCT_RELEASES,
                group: self.product_id.to_string(),
            },
        ];
        if let Some(package) = &self.package_id {
            out.push(ClaimOp::Require {
                scope: claims::PACKAGE_LIVE.into(),
                value: package.to_string(),
                code: "PACKAGE_NOT_FOUND",
                relationship: "package",
            });
            out.push(ClaimOp::Join {
                prefix: claims::PACKAGE_RELEASES,
                group: package.to_string(),
            });
        }
        out
    }
}
