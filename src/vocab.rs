//! The stable vocabulary of flowdx: categories, root causes, effects, fixes, actors and
//! confidence levels. Identifiers are kebab-case and appear verbatim in JSON and CSV output,
//! in rule files and in tests, so they never change once published. The human text that goes
//! with each identifier (descriptions, fix instructions) is data: see `data/vocab.toml` and
//! [`crate::classify::knowledge`].

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable kebab-case identifier.
            pub const fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let t = s.trim();
                $(if t.eq_ignore_ascii_case($text) { return Ok($name::$variant); })+
                Err(format!(
                    "unknown {} '{}' (expected one of: {})",
                    stringify!($name),
                    s,
                    [$($text),+].join(", ")
                ))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_enum! {
    /// What kind of failure the error itself states.
    Category {
        MfaRequired => "mfa-required",
        CaBlocked => "ca-blocked",
        CaDevice => "ca-device",
        CaLocation => "ca-location",
        TokenInactive => "token-inactive",
        TokenMaxAge => "token-max-age",
        SessionPolicy => "session-policy",
        TokenRevoked => "token-revoked",
        CredentialsInvalid => "credentials-invalid",
        AccountState => "account-state",
        ConsentRequired => "consent-required",
        AppConfig => "app-config",
        TenantConfig => "tenant-config",
        Transient => "transient",
        OtherAuth => "other-auth",
        NotAuth => "not-auth",
        Unknown => "unknown",
    }
}

string_enum! {
    /// Why it happened. Some root causes need context or timing, not just the message.
    RootCause {
        CaPolicyAfterConnection => "ca-policy-after-connection",
        MfaMaxAge => "mfa-max-age",
        TokenInactivity => "token-inactivity",
        SigninNotMatchingPolicy => "signin-not-matching-policy",
        EmbeddedHostSession => "embedded-host-session",
        SharepointCaBoundary => "sharepoint-ca-boundary",
        SignInFrequency => "sign-in-frequency",
        CredentialsChanged => "credentials-changed",
        OwnerAccountUnavailable => "owner-account-unavailable",
        DeviceOrLocationPolicy => "device-or-location-policy",
        ConsentMissing => "consent-missing",
        AppMisconfigured => "app-misconfigured",
        ServiceSide => "service-side",
        FlowLogic => "flow-logic",
        Unknown => "unknown",
    }
}

string_enum! {
    /// The seven documented effects of conditional access on flows (source document).
    Effect {
        E1 => "E1",
        E2 => "E2",
        E3 => "E3",
        E4 => "E4",
        E5 => "E5",
        E6 => "E6",
        E7 => "E7",
    }
}

string_enum! {
    /// What must be done.
    Fix {
        RepairConnection => "repair-connection",
        SetTokenLifetimePolicy => "set-token-lifetime-policy",
        ReauthenticateIdleConnection => "reauthenticate-idle-connection",
        ReassignOwner => "reassign-owner",
        ReviewCaPolicy => "review-ca-policy",
        GrantConsent => "grant-consent",
        FixAppRegistration => "fix-app-registration",
        FixCredentials => "fix-credentials",
        ReviewTenantConfig => "review-tenant-config",
        RetryLater => "retry-later",
        FixFlow => "fix-flow",
        Investigate => "investigate",
    }
}

string_enum! {
    /// Who must act on the fix.
    Actor {
        Owner => "owner",
        Admin => "admin",
        None => "none",
    }
}

string_enum! {
    /// How sure a diagnosis or finding is.
    Confidence {
        Hypothesis => "hypothesis",
        Likely => "likely",
        Certain => "certain",
    }
}

impl Category {
    /// True for categories that are about sign-in or authorization at all.
    pub fn is_auth(self) -> bool {
        !matches!(self, Category::NotAuth | Category::Unknown)
    }
}

/// A small set of effects, stored as a bit set so diagnoses stay `Copy`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Effects(u8);

impl Effects {
    pub const NONE: Effects = Effects(0);

    pub fn of(effects: &[Effect]) -> Effects {
        effects.iter().fold(Effects::NONE, |acc, e| acc.with(*e))
    }

    pub fn with(self, e: Effect) -> Effects {
        Effects(self.0 | (1 << (e as u8)))
    }

    pub fn union(self, other: Effects) -> Effects {
        Effects(self.0 | other.0)
    }

    pub fn contains(self, e: Effect) -> bool {
        self.0 & (1 << (e as u8)) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Effect> {
        Effect::ALL
            .iter()
            .copied()
            .filter(move |e| self.contains(*e))
    }

    /// `E1;E5` style, as used in CSV cells.
    pub fn joined(self, sep: &str) -> String {
        self.iter()
            .map(Effect::as_str)
            .collect::<Vec<_>>()
            .join(sep)
    }
}

impl Serialize for Effects {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Effects {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<Effect>::deserialize(d)?;
        Ok(Effects::of(&list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_round_trip() {
        for c in Category::ALL {
            assert_eq!(c.as_str().parse::<Category>().unwrap(), *c);
        }
        for r in RootCause::ALL {
            assert_eq!(r.as_str().parse::<RootCause>().unwrap(), *r);
        }
        for f in Fix::ALL {
            assert_eq!(f.as_str().parse::<Fix>().unwrap(), *f);
        }
        assert!("nonsense".parse::<Category>().is_err());
    }

    #[test]
    fn effects_set() {
        let e = Effects::of(&[Effect::E5, Effect::E1]);
        assert!(e.contains(Effect::E1) && e.contains(Effect::E5) && !e.contains(Effect::E2));
        assert_eq!(e.joined(";"), "E1;E5");
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(json, r#"["E1","E5"]"#);
        assert_eq!(serde_json::from_str::<Effects>(&json).unwrap(), e);
    }
}
