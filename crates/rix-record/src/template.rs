//! `rix new KIND`: a record file to fill in, with every field of the kind, commented.
//! The template parses as it is (the required fields hold placeholders), so `rix publish
//! --dry-run` checks it at every step of editing.

use crate::vocab::{Approach, CycleStage, KeyFactor, Kind, Theme};

fn slugs<T: Copy>(all: &[T], slug: fn(T) -> &'static str) -> String {
    all.iter().map(|t| slug(*t)).collect::<Vec<_>>().join(", ")
}

/// The template for `kind`.
pub fn template(kind: Kind) -> String {
    let section = match kind {
        Kind::BestPractice => BEST_PRACTICE,
        Kind::IntegrityStrategy => INTEGRITY_STRATEGY,
        Kind::CaseStudy => CASE_STUDY,
        Kind::ActionPlan => ACTION_PLAN,
        Kind::CodeOfConduct => CODE_OF_CONDUCT,
        Kind::Event => EVENT,
        Kind::SelfAssessment => SELF_ASSESSMENT,
    };
    format!(
        r#"+++
# A rix record: a {label}. Edit, check with `rix publish --dry-run FILE`, publish with
# `rix publish FILE`. Lines starting with # are comments; uncomment what you use.
kind = "{kind}"

# Required: a one-line title, the language of the text (BCP 47: en, ru, zh-Hans, ja, az-Latn,
# uz-Latn, kk, ky, mn-Cyrl, tg), and at least one key factor of the Revised Arusha Declaration:
# {factors}
title = "Title of the {label_lower}"
language = "en"
factors = ["transparency"]

# A paragraph shown in listings.
# summary = ""

# Other facets (any number):
# approaches = []   # {approaches}
# stages = []       # {stages}
# themes = []       # {themes}
# tags = []         # free keywords, e.g. ["hotline", "e-declaration"]

# period = {{ from = 2025-01-01, to = 2025-12-31 }}   # what the record concerns
# contact_unit = "Department of Internal Security"
# related = []          # ids of related records (any member's)
# supersedes = ""       # id, id prefix or @file of your earlier record this one replaces
{section}+++
Write the text here, in Markdown.
"#,
        label = kind.label().to_lowercase(),
        label_lower = kind.label().to_lowercase(),
        kind = kind.slug(),
        factors = slugs(KeyFactor::ALL, KeyFactor::slug),
        approaches = slugs(Approach::ALL, Approach::slug),
        stages = slugs(CycleStage::ALL, CycleStage::slug),
        themes = slugs(Theme::ALL, Theme::slug),
        section = section,
    )
}

const BEST_PRACTICE: &str = r#"
# Fields of a best practice (all optional):
# [best_practice]
# problem = "The integrity problem addressed"
# measures = ["What was done", "..."]
# lessons_learned = ["..."]
# transferability = "What another administration needs to adopt it"
# responsible_unit = "..."
# [[best_practice.results]]        # repeat for each measured result
# name = "complaints per year"
# baseline = 214                   # numbers or decimals
# value = 97
# unit = "per year"
# date = 2025-12-31
"#;

const INTEGRITY_STRATEGY: &str = r#"
# Fields of an integrity strategy (all optional; the years go in `period`):
# [integrity_strategy]
# objectives = ["..."]
# adopting_authority = "..."
# legal_basis = "..."
"#;

const CASE_STUDY: &str = r#"
# Fields of a case study (all optional). Remove every personal detail before publishing.
# [case_study]
# case_kind = "investigation"      # incident, investigation, prosecution, reform-evaluation
# context = "..."
# detection_method = "..."
# outcome = "..."
# lessons_learned = ["..."]
# anonymised = true                # your statement that personal data has been removed
"#;

const ACTION_PLAN: &str = r#"
# Items of an action plan (repeat [[action_plan.items]] for each):
# [[action_plan.items]]
# objective = "..."                # required in an item
# measure = "..."
# factor = "hrm"                   # a key factor
# responsible_unit = "..."
# deadline = 2025-12-31
# status = "planned"               # planned, in-progress, done, delayed, cancelled
# progress = "..."
# indicators = [{ name = "share of staff trained", baseline = 40, target = 100, current = 65, unit = "%" }]
"#;

const CODE_OF_CONDUCT: &str = r#"
# Fields of a code of conduct (all optional):
# [code_of_conduct]
# effective_from = 2025-01-01
# applies_to = ["all customs officers"]
# sanctions = ["reprimand", "dismissal"]
# [[code_of_conduct.provisions]]   # repeat for each provision
# topic = "Gifts"
# text = "..."
"#;

const EVENT: &str = r#"
# Fields of an event (all optional; the dates go in `period`):
# [event]
# event_type = "seminar"           # conference, seminar, workshop, training, peer-review-visit, meeting
# place = "..."
# participants = ["KZ", "KG"]      # member codes
# outcomes = ["..."]
# follow_ups = ["..."]
"#;

const SELF_ASSESSMENT: &str = r#"
# Fields of a self-assessment (all optional):
# [self_assessment]
# method = "WCO Integrity Self-Assessment Guide, staff survey"
# assessed_on = 2025-06-30
# scale = { min = 1, max = 5, description = "1 = absent, 5 = mature" }
# [[self_assessment.ratings]]      # repeat for each key factor rated
# factor = "leadership"
# rating = 4
# evidence = "..."
# gaps = ["..."]
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::file::{DraftContent, parse_record_text};

    #[test]
    fn every_template_parses_as_written_and_with_its_section_uncommented() {
        for kind in Kind::ALL {
            let text = template(*kind);
            let draft =
                parse_record_text(&text, std::path::Path::new("new.md")).unwrap_or_else(|e| panic!("{kind}: {e}"));
            let DraftContent::Publication { publication, .. } = draft.content else { panic!() };
            assert_eq!(publication.kind, *kind);
            // Uncomment the kind section (and the optional facets) and it still parses.
            let uncommented: String = text
                .lines()
                .map(|l| {
                    if l.starts_with("# [") || (l.starts_with("# ") && l.contains(" = ") && !l.contains("supersedes")) {
                        &l[2..]
                    } else {
                        l
                    }
                })
                .collect::<Vec<_>>()
                .join("\n");
            parse_record_text(&uncommented, std::path::Path::new("new.md"))
                .unwrap_or_else(|e| panic!("{kind} uncommented: {e}\n{uncommented}"));
        }
    }
}
