use super::*;
use crate::{claims, ClaimOp};
use cqrs_es::test::TestFramework;
use serde_json::Map;

fn at() -> Timestamp {
    chrono::DateTime::UNIX_EPOCH + chrono::Duration::days(1)
}

fn attributes(version: &str, channel: &str) -> ReleaseAttributes {
    ReleaseAttributes {
        name: None,
        description: None,
        channel: channel.into(),
        status: "DRAFT".into(),
        tag: None,
        version: version.into(),
        backdated: None,
        yanked: None,
        metadata: Map::new(),
    }
}

fn line(package: Option<&str>) -> ReleaseLine {
    ReleaseLine {
        product_id: "p1".into(),
        package_id: package.map(PackageId::from),
    }
}

fn create(attributes: ReleaseAttributes) -> ReleaseCommand {
    ReleaseCommand::Create {
        id: "r1".into(),
        account_id: "a1".into(),
        line: line(None),
        attributes,
        constraints: Vec::new(),
        at: at(),
    }
}

fn created(attributes: ReleaseAttributes) -> ReleaseEvent {
    ReleaseEvent::Created {
        id: "r1".into(),
        account_id: "a1".into(),
        line: line(None),
        attributes,
        constraints: Vec::new(),
        created_at: at(),
    }
}

fn refused(command: ReleaseCommand) -> String {
    TestFramework::<Release>::with(NoServices)
        .given_no_previous_events()
        .when(command)
        .inspect_result()
        .unwrap_err()
        .code
}

#[test]
fn a_release_is_created_with_its_version_normalized_and_its_channel_checked() {
    TestFramework::<Release>::with(NoServices)
        .given_no_previous_events()
        .when(create(attributes(" 1.2.3-beta.1 ", "Beta")))
        .then_expect_events(vec![created(attributes("1.2.3-beta.1", "beta"))]);
}

#[test]
fn versions_and_channels_follow_keygens_rules() {
    for (version, channel, code) in [
        ("1.2", "stable", "VERSION_INVALID"),
        ("v1.2.3", "stable", "VERSION_INVALID"),
        ("1.0.0-nightly.1", "dev", "VERSION_CHANNEL_INVALID"),
        ("1.0.0-beta.1", "stable", "VERSION_CHANNEL_INVALID"),
        ("1.0.0", "beta", "VERSION_CHANNEL_INVALID"),
        ("1.0.0-alpha.1", "beta", "VERSION_CHANNEL_INVALID"),
        ("1.0.0", "nightly", "CHANNEL_NOT_ALLOWED"),
    ] {
        assert_eq!(
            refused(create(attributes(version, channel))),
            code,
            "{version} on {channel}"
        );
    }
}

#[test]
fn a_release_is_not_created_yanked_nor_backdated_into_the_future() {
    let mut yanked = attributes("1.0.0", "stable");
    yanked.status = "YANKED".into();
    assert_eq!(refused(create(yanked)), "STATUS_NOT_ALLOWED");
    let mut future = attributes("1.0.0", "stable");
    future.backdated = Some(at() + chrono::Duration::seconds(1));
    assert_eq!(refused(create(future)), "BACKDATED_INVALID");
    let mut reserved = attributes("1.0.0", "stable");
    reserved.tag = Some("actions".into());
    assert_eq!(refused(create(reserved)), "TAG_EXCLUSION");
}

#[test]
fn yanking_records_when_and_publishing_again_clears_it() {
    let mut state = Release::default();
    state.apply(created(attributes("1.0.0", "stable")));
    state.apply(ReleaseEvent::Yanked {
        account_id: "a1".into(),
        at: at(),
    });
    let a = state.attributes.clone().unwrap();
    assert_eq!((a.status.as_str(), a.yanked), ("YANKED", Some(at())));
    state.apply(ReleaseEvent::Published {
        account_id: "a1".into(),
        at: at(),
    });
    let a = state.attributes.unwrap();
    assert_eq!((a.status.as_str(), a.yanked), ("PUBLISHED", None));
}

#[test]
fn a_constraint_names_an_entitlement_once() {
    let constraint = |id: &str, entitlement: &str| Constraint {
        id: id.into(),
        entitlement_id: entitlement.into(),
        created_at: at(),
    };
    let result = TestFramework::<Release>::with(NoServices)
        .given(vec![created(attributes("1.0.0", "stable"))])
        .when(ReleaseCommand::AttachConstraints {
            constraints: vec![constraint("c1", "e1"), constraint("c2", "e1")],
            at: at(),
        })
        .inspect_result();
    assert_eq!(result.unwrap_err().code, "CONSTRAINT_TAKEN");
    let result = TestFramework::<Release>::with(NoServices)
        .given(vec![created(attributes("1.0.0", "stable"))])
        .when(ReleaseCommand::DetachConstraints {
            constraint_ids: vec!["c9".into()],
            at: at(),
        })
        .inspect_result();
    assert_eq!(result.unwrap_err().code, "CONSTRAINT_NOT_FOUND");
}

#[test]
fn moving_to_another_package_moves_the_version_and_tag_claims() {
    let event = ReleaseEvent::PackageChanged {
        account_id: "a1".into(),
        from: line(None),
        to: line(Some("k1")),
        version: "1.0.0".into(),
        tag: Some("latest".into()),
        at: at(),
    };
    let claims = event.claims();
    assert!(claims.contains(&ClaimOp::Release {
        scope: "release.version:p1:".into(),
        value: claims::digest("1.0.0"),
    }));
    let added: Vec<&str> = claims
        .iter()
        .filter_map(|c| match c {
            ClaimOp::Add { scope, .. } => Some(scope.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(added, ["release.version:p1:k1", "release.tag:p1:k1"]);
}

fn artifact(filename: &str, filetype: Option<&str>) -> artifact::ArtifactAttributes {
    artifact::ArtifactAttributes {
        filename: filename.into(),
        filetype: filetype.map(str::to_string),
        filesize: None,
        platform: Some(" Linux ".into()),
        arch: None,
        signature: None,
        checksum: None,
        metadata: Map::new(),
    }
}

fn create_artifact(id: &str, attributes: artifact::ArtifactAttributes) -> ReleaseCommand {
    ReleaseCommand::CreateArtifact {
        artifact_id: id.into(),
        attributes,
        at: at(),
    }
}

#[test]
fn an_artifacts_filename_is_unique_per_release_and_agrees_with_its_filetype() {
    let given = vec![
        created(attributes("1.0.0", "stable")),
        ReleaseEvent::ArtifactCreated {
            account_id: "a1".into(),
            artifact_id: "f1".into(),
            attributes: artifact("app.tar.gz", Some("gz")),
            created_at: at(),
        },
    ];
    let code = |command| {
        TestFramework::<Release>::with(NoServices)
            .given(given.clone())
            .when(command)
            .inspect_result()
            .unwrap_err()
            .code
    };
    assert_eq!(
        code(create_artifact("f2", artifact("app.tar.gz", None))),
        "FILENAME_TAKEN"
    );
    assert_eq!(
        code(create_artifact("f2", artifact("app.zip", Some("exe")))),
        "FILENAME_EXTENSION_INVALID"
    );
    assert_eq!(code(create_artifact("f2", artifact("../x", None))), "FILENAME_INVALID");
    let mut normalized = artifact("App.DMG", Some(".DMG"));
    TestFramework::<Release>::with(NoServices)
        .given(given.clone())
        .when(create_artifact("f2", normalized.clone()))
        .then_expect_events(vec![ReleaseEvent::ArtifactCreated {
            account_id: "a1".into(),
            artifact_id: "f2".into(),
            attributes: {
                normalized.filetype = Some("dmg".into());
                normalized.platform = Some("linux".into());
                normalized
            },
            created_at: at(),
        }]);
}

/// A release with one artifact, `f1`, waiting for its bytes.
fn with_waiting_artifact() -> Vec<ReleaseEvent> {
    vec![
        created(attributes("1.0.0", "stable")),
        ReleaseEvent::ArtifactCreated {
            account_id: "a1".into(),
            artifact_id: "f1".into(),
            attributes: artifact("app.zip", None),
            created_at: at(),
        },
    ]
}

#[test]
fn an_upload_is_recorded_once_and_a_failure_only_while_waiting() {
    let mut given = with_waiting_artifact();
    given.push(ReleaseEvent::ArtifactUploaded {
        account_id: "a1".into(),
        artifact_id: "f1".into(),
        filesize: Some(3),
        manifest: None,
        at: at(),
    });
    for command in [
        ReleaseCommand::ArtifactUploaded {
            artifact_id: "f1".into(),
            filesize: Some(3),
            manifest: None,
            at: at(),
        },
        ReleaseCommand::ArtifactFailed {
            artifact_id: "f1".into(),
            at: at(),
        },
    ] {
        TestFramework::<Release>::with(NoServices)
            .given(given.clone())
            .when(command)
            .then_expect_events(vec![]);
    }
}

#[test]
fn an_upload_is_announced_by_both_of_keygens_names() {
    TestFramework::<Release>::with(NoServices)
        .given(with_waiting_artifact())
        .when(ReleaseCommand::ArtifactUploaded {
            artifact_id: "f1".into(),
            filesize: Some(3),
            manifest: None,
            at: at(),
        })
        .then_expect_events(vec![
            ReleaseEvent::ArtifactUploaded {
                account_id: "a1".into(),
                artifact_id: "f1".into(),
                filesize: Some(3),
                manifest: None,
                at: at(),
            },
            ReleaseEvent::ArtifactUploadedLegacy {
                account_id: "a1".into(),
                artifact_id: "f1".into(),
                at: at(),
            },
        ]);
}
