//! How a license decides: each command checked against the license's state and the policy
//! facts it carries, and each event applied to that state.

use super::{expiry, keys, License, LicenseAttributes, LicenseCommand, LicenseEvent, NewKey, PolicySnapshot};
use crate::event_sink::EventSink;
use crate::policy::PolicyAttributes;
use crate::vocabulary::{ExpirationBasis, RenewalBasis, TransferStrategy};
use crate::{DomainError, NoServices, Subject, Timestamp};
use cqrs_es::Aggregate;

/// The policy the API read for a command is no longer the license's (its read model lagged
/// behind a policy change): deciding on it would apply the wrong rules.
fn stale_policy() -> DomainError {
    DomainError::conflict(
        "the license's policy changed while the request was handled; try again",
        Subject::Relationship("policy".into()),
    )
}

impl License {
    /// Refuses a command carrying a snapshot of another policy than the license's own.
    pub(super) fn governed_by(&self, policy: &PolicySnapshot) -> Result<(), DomainError> {
        if policy.id == self.policy_id {
            Ok(())
        } else {
            Err(stale_policy())
        }
    }
}

/// The expiry a license starts with when its policy's basis is `basis` and it has none yet.
fn started_expiry(
    policy: &PolicyAttributes,
    basis: ExpirationBasis,
    at: Timestamp,
) -> Result<Option<Timestamp>, DomainError> {
    match policy.duration {
        Some(duration) if policy.expiration_basis == basis => expiry::advance(at, duration).map(Some),
        _ => Ok(None),
    }
}

/// The update that starts a license's expiry when its policy's basis is `basis` and it has none
/// yet.
pub(super) fn start_expiry(
    current: &LicenseAttributes,
    policy: &PolicyAttributes,
    basis: ExpirationBasis,
    at: Timestamp,
) -> Result<Option<LicenseEvent>, DomainError> {
    Ok(match (current.expiry, started_expiry(policy, basis, at)?) {
        (None, Some(expiry)) => Some(LicenseEvent::Updated {
            attributes: LicenseAttributes {
                expiry: Some(expiry),
                ..current.clone()
            },
            updated_at: at,
        }),
        _ => None,
    })
}

impl Aggregate for License {
    const TYPE: &'static str = Self::TYPE_NAME;
    type Command = LicenseCommand;
    type Event = LicenseEvent;
    type Error = DomainError;
    type Services = NoServices;

    async fn handle(
        &mut self,
        command: Self::Command,
        _: &Self::Services,
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        let events = match command {
            LicenseCommand::Create {
                id,
                account_id,
                policy,
                key,
                attributes,
                at,
            } => {
                if self.attributes.is_some() {
                    return Err(DomainError::already_exists());
                }
                if let NewKey::Custom(custom) = &key {
                    keys::validate_custom_key(custom)?;
                }
                let pooled_key_id = match &key {
                    NewKey::Pooled { id, .. } => Some(id.clone()),
                    _ => None,
                };
                let mut license = LicenseAttributes::default().merged(&attributes)?;
                if !attributes.contains_key("expiry") {
                    license.expiry = started_expiry(&policy.attributes, ExpirationBasis::FromCreation, at)?;
                }
                license.validate(&policy.attributes, None)?;
                let last_check_in = policy.attributes.require_check_in.then_some(at);
                // Last, as Keygen does: a scheme's key is signed over what the license now is.
                let key = match key {
                    NewKey::Generated(key) | NewKey::Custom(key) | NewKey::Pooled { key, .. } => key,
                    NewKey::Signed { template, jti, signer } => {
                        let scheme = policy
                            .attributes
                            .scheme
                            .as_deref()
                            .and_then(keys::Scheme::parse)
                            .ok_or_else(|| {
                                DomainError::invalid("scheme", "NOT_ALLOWED", "the policy has no signing scheme")
                            })?;
                        let facts = keys::SeedFacts {
                            account_id: account_id.as_ref(),
                            product_id: policy.product_id.as_ref(),
                            policy_id: policy.id.as_ref(),
                            duration: policy.attributes.duration,
                            license_id: id.as_ref(),
                            created: at,
                            expiry: license.expiry,
                            jti: &jti,
                        };
                        keys::signed_key(scheme, template.as_deref(), &facts, signer.0.as_ref())?
                    }
                };
                vec![LicenseEvent::Created {
                    id,
                    account_id,
                    product_id: policy.product_id,
                    policy_id: policy.id,
                    key,
                    pooled_key_id,
                    attributes: license,
                    last_check_in,
                    created_at: at,
                }]
            }
            LicenseCommand::Update { policy, changes, at } => {
                self.governed_by(&policy)?;
                let before = self.current()?;
                let license = before.merged(&changes)?;
                license.validate(&policy.attributes, Some(before))?;
                vec![LicenseEvent::Updated {
                    attributes: license,
                    updated_at: at,
                }]
            }
            LicenseCommand::Delete {
                revoked,
                under_policy,
                at,
            } => {
                self.current()?;
                if under_policy.is_some_and(|policy| policy != self.policy_id) {
                    return Err(stale_policy());
                }
                vec![if revoked {
                    LicenseEvent::Revoked { revoked_at: at }
                } else {
                    LicenseEvent::Deleted { deleted_at: at }
                }]
            }
            LicenseCommand::Suspend { at } => {
                if self.current()?.suspended {
                    return Err(DomainError::unprocessable(
                        "SUSPENDED_INVALID",
                        "is already suspended",
                        Subject::Attribute("suspended".into()),
                    ));
                }
                vec![LicenseEvent::Suspended { at }]
            }
            LicenseCommand::Reinstate { at } => {
                if !self.current()?.suspended {
                    return Err(DomainError::unprocessable(
                        "SUSPENDED_INVALID",
                        "is not suspended",
                        Subject::Attribute("suspended".into()),
                    ));
                }
                vec![LicenseEvent::Reinstated { at }]
            }
            LicenseCommand::Renew { policy, at } => {
                self.governed_by(&policy)?;
                let current = self.current()?;
                let Some(duration) = policy.attributes.duration else {
                    return Err(DomainError::unprocessable(
                        "LICENSE_NOT_RENEWABLE",
                        "cannot be renewed because the policy does not have a duration",
                        Subject::Relationship("policy".into()),
                    ));
                };
                let Some(expiry) = current.expiry else {
                    return Err(DomainError::unprocessable(
                        "LICENSE_NOT_RENEWABLE",
                        "cannot be renewed because it does not expire",
                        Subject::Attribute("expiry".into()),
                    ));
                };
                let from = match policy.attributes.renewal_basis {
                    RenewalBasis::FromNow => at,
                    RenewalBasis::FromNowIfExpired if expiry < at => at,
                    _ => expiry,
                };
                vec![LicenseEvent::Renewed {
                    expiry: Some(expiry::advance(from, duration)?),
                    at,
                }]
            }
            LicenseCommand::CheckIn { policy, at } => {
                self.governed_by(&policy)?;
                self.current()?;
                if !policy.attributes.require_check_in {
                    return Err(DomainError::unprocessable(
                        "CHECK_IN_NOT_REQUIRED",
                        "cannot be checked in because the policy does not require it",
                        Subject::Relationship("policy".into()),
                    ));
                }
                vec![LicenseEvent::CheckedIn { at }]
            }
            LicenseCommand::IncrementUsage { policy, by, at } => {
                self.governed_by(&policy)?;
                let current = self.current()?.clone();
                let max_uses = current.limits.max_uses.or(policy.attributes.limits.max_uses);
                let uses = self.uses.checked_add(by).ok_or_else(|| {
                    DomainError::unprocessable("USES_INVALID", "is too large", Subject::Meta("increment".into()))
                })?;
                if max_uses.is_some_and(|max| uses > max) {
                    return Err(DomainError::unprocessable(
                        "USES_LIMIT_EXCEEDED",
                        format!(
                            "usage exceeds maximum allowed for license ({})",
                            max_uses.unwrap_or_default()
                        ),
                        Subject::Attribute("uses".into()),
                    ));
                }
                let mut events = vec![LicenseEvent::UsageIncremented { uses, at }];
                events.extend(start_expiry(
                    &current,
                    &policy.attributes,
                    ExpirationBasis::FromFirstUse,
                    at,
                )?);
                events
            }
            LicenseCommand::DecrementUsage { by, at } => {
                self.current()?;
                let uses = self.uses - by;
                if uses < 0 {
                    return Err(DomainError::unprocessable(
                        "USES_INVALID",
                        "must be greater than or equal to 0",
                        Subject::Attribute("uses".into()),
                    ));
                }
                vec![LicenseEvent::UsageDecremented { uses, at }]
            }
            LicenseCommand::ResetUsage { at } => {
                self.current()?;
                vec![LicenseEvent::UsageReset { at }]
            }
            LicenseCommand::ChangePolicy { from, to, at } => {
                self.governed_by(&from)?;
                let current = self.current()?;
                let incompatible = |detail: &str| {
                    DomainError::unprocessable("POLICY_NOT_COMPATIBLE", detail, Subject::Relationship("policy".into()))
                };
                if to.product_id != self.product_id {
                    return Err(incompatible("cannot change to a policy for another product"));
                }
                let (a, b) = (&from.attributes, &to.attributes);
                if a.encrypted != b.encrypted || a.use_pool != b.use_pool || a.scheme != b.scheme {
                    return Err(incompatible(
                        "cannot change to a policy with a different key scheme, encryption or pool",
                    ));
                }
                if b.machine_uniqueness_strategy.rank() > a.machine_uniqueness_strategy.rank()
                    || b.component_uniqueness_strategy.rank() > a.component_uniqueness_strategy.rank()
                {
                    return Err(incompatible(
                        "cannot change to a policy with a stricter uniqueness strategy",
                    ));
                }
                let expiry = match b.transfer_strategy {
                    TransferStrategy::ResetExpiry => b.duration.map(|d| expiry::advance(at, d)).transpose()?,
                    TransferStrategy::KeepExpiry => current.expiry,
                };
                let moved = self.moved_claims(&to);
                vec![LicenseEvent::PolicyChanged {
                    product_id: to.product_id,
                    policy_id: to.id,
                    expiry,
                    moved,
                    at,
                }]
            }
            LicenseCommand::StartExpiryOnValidation { policy, at } => {
                self.governed_by(&policy)?;
                let basis = ExpirationBasis::FromFirstValidation;
                start_expiry(self.current()?, &policy.attributes, basis, at)?
                    .into_iter()
                    .collect()
            }
            LicenseCommand::StartExpiryOnDownload { policy, at } => {
                self.governed_by(&policy)?;
                let basis = ExpirationBasis::FromFirstDownload;
                start_expiry(self.current()?, &policy.attributes, basis, at)?
                    .into_iter()
                    .collect()
            }
            command @ (LicenseCommand::SpawnProcess { .. }
            | LicenseCommand::UpdateProcess { .. }
            | LicenseCommand::KillProcess { .. }) => self.decide_process(command)?,
            command @ (LicenseCommand::AddComponent { .. }
            | LicenseCommand::UpdateComponent { .. }
            | LicenseCommand::RemoveComponent { .. }) => self.decide_component(command)?,
            command @ (LicenseCommand::ActivateMachine { .. }
            | LicenseCommand::ResizeMachine { .. }
            | LicenseCommand::DeactivateMachine { .. }) => self.decide_machine(command)?,
            LicenseCommand::AttachEntitlements(change) => {
                self.current()?;
                vec![LicenseEvent::EntitlementsAttached(
                    change.attach_to(&self.entitlement_ids)?,
                )]
            }
            LicenseCommand::DetachEntitlements { change, inherited } => {
                self.current()?;
                if inherited.policy_id != self.policy_id {
                    return Err(stale_policy());
                }
                if change
                    .entitlement_ids
                    .iter()
                    .any(|id| inherited.entitlement_ids.contains(id))
                {
                    return Err(DomainError::forbidden(
                        "cannot detach an entitlement attached through the license's policy",
                    ));
                }
                vec![LicenseEvent::EntitlementsDetached(
                    change.detach_from(&self.entitlement_ids)?,
                )]
            }
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            LicenseEvent::Created {
                account_id,
                product_id,
                policy_id,
                attributes,
                last_check_in,
                ..
            } => {
                self.account_id = account_id;
                self.product_id = product_id;
                self.policy_id = policy_id;
                self.attributes = Some(attributes);
                self.last_check_in = last_check_in;
            }
            LicenseEvent::Updated { attributes, .. } => self.attributes = Some(attributes),
            LicenseEvent::Deleted { .. } | LicenseEvent::Revoked { .. } => self.deleted = true,
            LicenseEvent::Suspended { .. } | LicenseEvent::Reinstated { .. } => {
                if let Some(a) = self.attributes.as_mut() {
                    a.suspended = matches!(event, LicenseEvent::Suspended { .. });
                }
            }
            LicenseEvent::Renewed { expiry, .. } => {
                if let Some(a) = self.attributes.as_mut() {
                    a.expiry = expiry;
                }
            }
            LicenseEvent::CheckedIn { at } => self.last_check_in = Some(at),
            LicenseEvent::UsageIncremented { uses, .. } | LicenseEvent::UsageDecremented { uses, .. } => {
                self.uses = uses
            }
            LicenseEvent::UsageReset { .. } => self.uses = 0,
            LicenseEvent::PolicyChanged {
                product_id,
                policy_id,
                expiry,
                moved,
                ..
            } => {
                self.apply_moved_claims(&moved);
                self.product_id = product_id;
                self.policy_id = policy_id;
                if let Some(a) = self.attributes.as_mut() {
                    a.expiry = expiry;
                }
            }
            LicenseEvent::MachineActivated { .. }
            | LicenseEvent::MachineDeactivated { .. }
            | LicenseEvent::MachineResized { .. }
            | LicenseEvent::ProcessSpawned { .. }
            | LicenseEvent::ProcessUpdated { .. }
            | LicenseEvent::ProcessKilled { .. } => self.apply_machine(&event),
            LicenseEvent::ComponentAdded { .. } | LicenseEvent::ComponentRemoved { .. } => self.apply_component(&event),
            LicenseEvent::ComponentUpdated { .. } => {}
            LicenseEvent::EntitlementsAttached(change) => self.entitlement_ids.extend(change.entitlement_ids),
            LicenseEvent::EntitlementsDetached(change) => {
                self.entitlement_ids.retain(|id| !change.entitlement_ids.contains(id))
            }
        }
    }
}
