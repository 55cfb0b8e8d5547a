//! The controlled vocabulary analysts filter by: record kinds, the ten key factors of the
//! Revised Arusha Declaration, and the other facets named by the Almaty resolution and the WCO
//! Integrity Development Guide. Each term has a stable kebab-case slug (what is signed and what
//! filters take) and a human label.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A slug that names no term of the vocabulary it was parsed for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {vocabulary} {value:?}; expected one of: {expected}")]
pub struct UnknownTerm {
    /// Which vocabulary (e.g. "key factor").
    pub vocabulary: &'static str,
    /// The rejected input.
    pub value: String,
    /// The accepted slugs, comma separated.
    pub expected: String,
}

macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $slug:literal, $label:literal; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every term, in the vocabulary's own order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant, )+ ];

            /// The stable slug that is signed and filtered on.
            pub const fn slug(self) -> &'static str {
                match self { $( $name::$variant => $slug, )+ }
            }

            /// The human-readable name.
            pub const fn label(self) -> &'static str {
                match self { $( $name::$variant => $label, )+ }
            }
        }

        impl FromStr for $name {
            type Err = UnknownTerm;
            fn from_str(s: &str) -> Result<Self, UnknownTerm> {
                match s {
                    $( $slug => Ok($name::$variant), )+
                    _ => Err(UnknownTerm {
                        vocabulary: $what,
                        value: s.to_owned(),
                        expected: [$($slug),+].join(", "),
                    }),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.slug())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.slug())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

vocabulary! {
    /// What a publication is.
    Kind, "record kind" {
        /// A practice that worked, with results and lessons.
        BestPractice => "best-practice", "Best practice";
        /// A national integrity strategy.
        IntegrityStrategy => "integrity-strategy", "Integrity strategy";
        /// An anonymised case: incident, investigation, prosecution or reform evaluation.
        CaseStudy => "case-study", "Case study";
        /// A national integrity action plan.
        ActionPlan => "action-plan", "Action plan";
        /// A code of ethics and conduct.
        CodeOfConduct => "code-of-conduct", "Code of conduct";
        /// A conference, seminar, training or peer-review visit.
        Event => "event", "Event";
        /// A self-assessment against the key factors.
        SelfAssessment => "self-assessment", "Self-assessment";
    }
}

vocabulary! {
    /// The ten key factors of the WCO Revised Arusha Declaration (2003): the main facet.
    KeyFactor, "key factor" {
        /// Leadership and Commitment.
        Leadership => "leadership", "Leadership and Commitment";
        /// Regulatory Framework.
        RegulatoryFramework => "regulatory-framework", "Regulatory Framework";
        /// Transparency.
        Transparency => "transparency", "Transparency";
        /// Automation.
        Automation => "automation", "Automation";
        /// Reform and Modernization.
        ReformModernization => "reform-modernization", "Reform and Modernization";
        /// Audit and Investigation.
        AuditInvestigation => "audit-investigation", "Audit and Investigation";
        /// Code of Conduct.
        CodeOfConduct => "code-of-conduct", "Code of Conduct";
        /// Human Resource Management.
        Hrm => "hrm", "Human Resource Management";
        /// Morale and Organizational Culture.
        MoraleCulture => "morale-culture", "Morale and Organizational Culture";
        /// Relationship with the Private Sector.
        PrivateSector => "private-sector", "Relationship with the Private Sector";
    }
}

vocabulary! {
    /// Pre-emptive or traditional approaches, as the resolution's national action plans name them.
    Approach, "approach" {
        /// Pre-emptive: education.
        Education => "education", "Education";
        /// Pre-emptive: corruption prevention.
        Prevention => "prevention", "Prevention";
        /// Traditional: detection.
        Detection => "detection", "Detection";
        /// Traditional: investigation.
        Investigation => "investigation", "Investigation";
        /// Traditional: prosecution.
        Prosecution => "prosecution", "Prosecution";
    }
}

vocabulary! {
    /// Stages of the WCO Integrity Development Cycle.
    CycleStage, "integrity development cycle stage" {
        /// Self-assessment.
        SelfAssessment => "self-assessment", "Self-assessment";
        /// Action planning.
        ActionPlanning => "action-planning", "Action planning";
        /// Implementation.
        Implementation => "implementation", "Implementation";
        /// Monitoring.
        Monitoring => "monitoring", "Monitoring";
        /// Evaluation.
        Evaluation => "evaluation", "Evaluation";
        /// Peer review.
        PeerReview => "peer-review", "Peer review";
    }
}

vocabulary! {
    /// Cross-cutting themes.
    Theme, "theme" {
        /// Collective action with business and civil society.
        CollectiveAction => "collective-action", "Collective action";
        /// Customs-to-customs cooperation.
        CustomsToCustoms => "customs-to-customs", "Customs-to-customs cooperation";
        /// Gender and diversity.
        GenderDiversity => "gender-diversity", "Gender and diversity";
        /// Political interference.
        PoliticalInterference => "political-interference", "Political interference";
        /// Communication.
        Communication => "communication", "Communication";
        /// Performance measurement.
        PerformanceMeasurement => "performance-measurement", "Performance measurement";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_round_trip_and_unknown_terms_list_the_choices() {
        assert_eq!(KeyFactor::ALL.len(), 10);
        for f in KeyFactor::ALL {
            assert_eq!(f.slug().parse::<KeyFactor>().unwrap(), *f);
        }
        let err = "corruption".parse::<KeyFactor>().unwrap_err();
        assert!(err.to_string().contains("leadership, regulatory-framework"));
        assert_eq!(Kind::ALL.len(), 7);
    }
}
