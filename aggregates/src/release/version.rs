//! Release versions as Keygen orders and upgrades them: a semver version split into the
//! components Keygen stores (major, minor, patch, the prerelease's words and first number, the
//! build's words and first number), the order of those components, the "strictly newer" rules
//! of an upgrade, and the `constraint` an upgrade may be pinned to.
//!
//! The upgrade rules compare components as SQL does: a missing component equals nothing and is
//! greater than nothing, so `1.0.0+1` is not a build bump of `1.0.0+0` (no prerelease to match).
//! Clients depend on Keygen's answers, odd parts included.

use std::cmp::Ordering;

/// The prerelease keys a version may start its prerelease with, and the channels beside
/// `stable`.
pub const PRERELEASE_CHANNELS: &[&str] = &["rc", "beta", "alpha", "dev"];
/// Every channel, `stable` first.
pub const CHANNELS: &[&str] = &["stable", "rc", "beta", "alpha", "dev"];

/// A version's components as Keygen stores them for ordering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionParts {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    /// The prerelease's non-numeric identifiers, joined by `.` (`beta` of `beta.2`).
    pub pre_word: Option<String>,
    /// The prerelease's first numeric identifier (`2` of `beta.2`).
    pub pre_num: Option<u64>,
    pub build_word: Option<String>,
    pub build_num: Option<u64>,
}

/// The words (joined by `.`) and the first number of a prerelease or build.
fn words_and_number(text: &str) -> (Option<String>, Option<u64>) {
    if text.is_empty() {
        return (None, None);
    }
    let mut words = Vec::new();
    let mut number = None;
    for part in text.split('.') {
        match part.parse::<u64>() {
            Ok(n) if part.bytes().all(|b| b.is_ascii_digit()) => {
                number.get_or_insert(n);
            }
            _ => words.push(part),
        }
    }
    let words = Some(words.join(".")).filter(|w| !w.is_empty());
    (words, number)
}

impl VersionParts {
    /// The components of a parsed version.
    pub fn of(version: &semver::Version) -> Self {
        let (pre_word, pre_num) = words_and_number(version.pre.as_str());
        let (build_word, build_num) = words_and_number(version.build.as_str());
        Self {
            major: version.major,
            minor: version.minor,
            patch: version.patch,
            pre_word,
            pre_num,
            build_word,
            build_num,
        }
    }

    /// The components of a stored (already valid) version text.
    pub fn parse(version: &str) -> Option<Self> {
        semver::Version::parse(version).ok().map(|v| Self::of(&v))
    }

    /// Keygen's version order, lowest first: major, minor, patch, then no prerelease above any
    /// prerelease word (words compared as text), then the prerelease number, the build word and
    /// the build number, each missing one below any present.
    pub fn order(&self, other: &Self) -> Ordering {
        let pre_word = match (&self.pre_word, &other.pre_word) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(a), Some(b)) => a.cmp(b),
        };
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then(pre_word)
            .then(self.pre_num.cmp(&other.pre_num))
            .then(self.build_word.cmp(&other.build_word))
            .then(self.build_num.cmp(&other.build_num))
    }

    fn same_release(&self, other: &Self) -> bool {
        (self.major, self.minor, self.patch) == (other.major, other.minor, other.patch)
    }

    /// Whether `self` is strictly newer than `current` by Keygen's upgrade rules (see the
    /// module's note on missing components).
    pub fn upgrades(&self, current: &Self) -> bool {
        let (c, r) = (self, current);
        let mmp = c.same_release(r);
        let pre = mmp && eq(&c.pre_word, &r.pre_word) && eq(&c.pre_num, &r.pre_num);
        let build_num = pre
            && eq(&c.build_word, &r.build_word)
            && match r.build_num {
                Some(_) => gt(&c.build_num, &r.build_num),
                None => c.build_num.is_some(),
            };
        let build_word = pre
            && match r.build_word {
                Some(_) => gt(&c.build_word, &r.build_word),
                None => c.build_word.is_some(),
            };
        let pre_num = mmp
            && eq(&c.pre_word, &r.pre_word)
            && match r.pre_num {
                Some(_) => gt(&c.pre_num, &r.pre_num),
                None => c.pre_num.is_some(),
            };
        let pre_word = r.pre_word.is_some()
            && mmp
            && (gt(&c.pre_word, &r.pre_word) || (c.pre_word.is_none() && c.pre_num.is_none()));
        let patch = (c.major, c.minor) == (r.major, r.minor) && c.patch > r.patch;
        let minor = c.major == r.major && c.minor > r.minor;
        let major = c.major > r.major;
        build_num || build_word || pre_num || pre_word || patch || minor || major
    }
}

/// SQL's `=`: a missing value equals nothing.
fn eq<T: PartialEq>(a: &Option<T>, b: &Option<T>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a == b)
}

/// SQL's `>`: a missing value is greater than nothing and nothing is greater than it.
fn gt<T: PartialOrd>(a: &Option<T>, b: &Option<T>) -> bool {
    matches!((a, b), (Some(a), Some(b)) if a > b)
}

/// The channels a channel's filter takes in: `stable` only stable, `rc` stable and rc, and so
/// on down to `alpha`; `dev` only dev; anything else none.
pub fn channels_within(channel: &str) -> &'static [&'static str] {
    match channel {
        "stable" => &CHANNELS[..1],
        "rc" => &CHANNELS[..2],
        "beta" => &CHANNELS[..3],
        "alpha" => &CHANNELS[..4],
        "dev" => &CHANNELS[4..],
        _ => &[],
    }
}

/// An upgrade's `constraint`: `1` pins the major, `1.2` the major and a minor at least 1.2,
/// `1.2.3` the major and minor and a patch at least 3; a prerelease or build narrows to its
/// words and number. An operator in front (`~>`, `>=`) is read past, as Keygen does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeConstraint {
    major: u64,
    minor: Option<u64>,
    patch: Option<u64>,
    pre: (Option<String>, Option<u64>),
    build: (Option<String>, Option<u64>),
}

impl UpgradeConstraint {
    /// The constraint, or `None` when it is not of that form.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim_start_matches(['<', '>', '=', '~']).trim_start();
        let (text, build) = match text.split_once('+') {
            Some((head, build)) => (head, Some(build)),
            None => (text, None),
        };
        let (text, pre) = match text.split_once('-') {
            Some((head, pre)) => (head, Some(pre)),
            None => (text, None),
        };
        let identifiers = |s: Option<&str>| {
            s.is_none_or(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'))
        };
        if !identifiers(pre) || !identifiers(build) {
            return None;
        }
        let numbers: Vec<&str> = text.split('.').collect();
        if numbers.len() > 3
            || numbers
                .iter()
                .any(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()))
        {
            return None;
        }
        let number = |i: usize| numbers.get(i).map(|n| n.parse::<u64>()).transpose();
        Some(Self {
            major: number(0).ok()??,
            minor: number(1).ok()?,
            patch: number(2).ok()?,
            pre: words_and_number(pre.unwrap_or_default()),
            build: words_and_number(build.unwrap_or_default()),
        })
    }

    /// Whether a candidate's version falls within the constraint.
    pub fn admits(&self, v: &VersionParts) -> bool {
        let narrows = |want: &(Option<String>, Option<u64>), word: &Option<String>, num: &Option<u64>| {
            want.0.as_ref().is_none_or(|w| word.as_ref() == Some(w)) && want.1.is_none_or(|n| *num == Some(n))
        };
        if !narrows(&self.pre, &v.pre_word, &v.pre_num) || !narrows(&self.build, &v.build_word, &v.build_num) {
            return false;
        }
        match (self.minor, self.patch) {
            (Some(minor), Some(patch)) => v.major == self.major && v.minor == minor && v.patch >= patch,
            (Some(minor), None) => v.major == self.major && v.minor >= minor,
            _ => v.major == self.major,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> VersionParts {
        VersionParts::parse(text).unwrap()
    }

    #[test]
    fn components_are_split_as_keygen_stores_them() {
        let parts = v("1.2.3-beta.2.x+build.77");
        assert_eq!(parts.pre_word.as_deref(), Some("beta.x"));
        assert_eq!(parts.pre_num, Some(2));
        assert_eq!(parts.build_word.as_deref(), Some("build"));
        assert_eq!(parts.build_num, Some(77));
    }

    #[test]
    fn versions_order_with_a_final_release_above_its_prereleases() {
        let mut versions = [
            "1.0.0",
            "1.0.0-beta.2",
            "1.0.0-alpha.1",
            "0.9.9",
            "1.0.0-beta.10",
            "1.0.1-rc.1",
        ];
        versions.sort_by(|a, b| v(a).order(&v(b)));
        assert_eq!(
            versions,
            [
                "0.9.9",
                "1.0.0-alpha.1",
                "1.0.0-beta.2",
                "1.0.0-beta.10",
                "1.0.0",
                "1.0.1-rc.1"
            ]
        );
    }

    #[test]
    fn an_upgrade_is_strictly_newer_by_keygens_rules() {
        for (from, to) in [
            ("1.0.0", "1.0.1"),
            ("1.0.0", "1.1.0"),
            ("1.0.0", "2.0.0"),
            ("1.0.0-beta.1", "1.0.0-beta.2"),
            ("1.0.0-beta", "1.0.0-beta.1"),
            ("1.0.0-alpha.3", "1.0.0-beta.1"),
            ("1.0.0-beta.2", "1.0.0"),
            ("1.0.0-beta.1+build.1", "1.0.0-beta.1+build.2"),
            ("1.0.0-beta.1", "1.0.0-beta.1+build.2"),
        ] {
            assert!(v(to).upgrades(&v(from)), "{from} → {to}");
        }
        for (from, to) in [
            ("1.0.1", "1.0.0"),
            ("1.0.0", "1.0.0-beta.1"),
            ("1.0.0-beta.2", "1.0.0-beta.1"),
            ("2.0.0", "1.9.9"),
            // No prerelease to compare equal: a build bump of a final release is not an upgrade.
            ("1.0.0+1", "1.0.0+2"),
        ] {
            assert!(!v(to).upgrades(&v(from)), "{from} ↛ {to}");
        }
    }

    #[test]
    fn constraints_pin_the_major_or_the_minor_or_the_patch() {
        let c = |s: &str| UpgradeConstraint::parse(s).unwrap();
        assert!(c("1").admits(&v("1.9.0")) && !c("1").admits(&v("2.0.0")));
        assert!(c("1.2").admits(&v("1.3.0")) && !c("1.2").admits(&v("1.1.9")));
        assert!(c("1.2.3").admits(&v("1.2.4")) && !c("1.2.3").admits(&v("1.3.0")));
        assert!(c("~> 2.0").admits(&v("2.1.0")));
        assert!(c("1-beta").admits(&v("1.1.0-beta.3")) && !c("1-beta").admits(&v("1.1.0")));
        for bad in ["", "x", "1.2.3.4", "1..2", "1.a", "1-", "v1"] {
            assert!(UpgradeConstraint::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn channel_filters_take_in_the_more_stable_channels() {
        assert_eq!(channels_within("beta"), ["stable", "rc", "beta"]);
        assert_eq!(channels_within("dev"), ["dev"]);
        assert!(channels_within("nightly").is_empty());
    }
}
