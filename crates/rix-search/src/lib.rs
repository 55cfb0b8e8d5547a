//! Full-text search over the replica: a tantivy index derived from the stored records, never
//! the source of truth. It can be deleted at any time and rebuilt (`rix reindex`); it is kept
//! up to date as records arrive.
//!
//! Languages: every record's text goes into a generic field (Unicode words, lowercased and
//! folded to ASCII where possible: right for Azerbaijani, Uzbek and other Latin or Cyrillic
//! text) and into a field analysed for its language: English and Russian with Snowball
//! stemming, Chinese and Japanese with the CJK bigram tokenizer of [`cjk`]. Queries search all
//! fields, so a query in any of these languages finds records in it.
//!
//! Filters (kind, member, key factor, language, date) are part of the tantivy query; whether a
//! record is superseded or withdrawn changes as later records arrive, so that is checked
//! against the replica for each hit.
#![deny(missing_docs)]

pub mod cjk;
pub mod directory;

use std::collections::HashMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub use rix_api::{SearchHit, SearchQuery, SearchResults};
use rix_record::{Content, VerifiedRecord};
use rix_store::query::{Detail, RecordFilter, admits, view};
use rix_store::{Replica, StoreError};
use tantivy::collector::{Count, TopDocs};
use tantivy::query::{BooleanQuery, Occur, Query, QueryParser, RangeQuery, RegexQuery, TermQuery};
use tantivy::schema::{
    Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::snippet::SnippetGenerator;
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RemoveLongFilter, SimpleTokenizer, Stemmer, TextAnalyzer,
};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

/// Search failures.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// The index could not be opened, read or written.
    #[error("search index {path}: {message}")]
    Index {
        /// The index directory.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// The query could not be parsed.
    #[error("cannot understand the query {query:?}: {message}")]
    Query {
        /// The query.
        query: String,
        /// Why.
        message: String,
    },
    /// The replica failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone, Copy)]
struct Fields {
    id: Field,
    author: Field,
    kind: Field,
    factor: Field,
    language: Field,
    created: Field,
    title: [Field; 4],
    text: [Field; 4],
}

/// The analysers, in the order of `Fields::title` and `Fields::text`.
const ANALYSERS: [&str; 4] = ["rix_generic", "rix_en", "rix_ru", "rix_cjk"];
const GENERIC: usize = 0;
const TITLE_BOOST: f32 = 3.0;
const WRITER_MEMORY: usize = 20_000_000;
/// Written, durably, after the whole index was made durable (clean shutdown, catch-up,
/// rebuild): it holds the replica's record count the index then reflected. Removed, durably,
/// before the next commit changes the index.
const SYNCED_FILE: &str = "rix-synced-count";

/// The search index of one replica.
pub struct SearchIndex {
    dir: PathBuf,
    index: Index,
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    fields: Fields,
    /// The count in [`SYNCED_FILE`] while that file is on disk.
    clean: Mutex<Option<u64>>,
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SearchIndex({})", self.dir.display())
    }
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = |analyser: &str, stored: bool| {
        let indexing = TextFieldIndexing::default()
            .set_tokenizer(analyser)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions);
        let options = TextOptions::default().set_indexing_options(indexing);
        if stored { options.set_stored() } else { options }
    };
    let fields = Fields {
        id: b.add_text_field("id", STRING | STORED),
        author: b.add_text_field("author", STRING),
        kind: b.add_text_field("kind", STRING),
        factor: b.add_text_field("factor", STRING),
        language: b.add_text_field("language", STRING),
        created: b.add_i64_field("created", INDEXED),
        title: ANALYSERS.map(|a| b.add_text_field(&format!("title_{a}"), text(a, false))),
        text: ANALYSERS.map(|a| b.add_text_field(&format!("text_{a}"), text(a, true))),
    };
    (b.build(), fields)
}

fn register_analysers(index: &Index) {
    let words =
        || TextAnalyzer::builder(SimpleTokenizer::default()).filter(RemoveLongFilter::limit(60)).filter(LowerCaser);
    let t = index.tokenizers();
    t.register("rix_generic", words().filter(AsciiFoldingFilter).build());
    t.register("rix_en", words().filter(Stemmer::new(Language::English)).build());
    t.register("rix_ru", words().filter(Stemmer::new(Language::Russian)).build());
    t.register("rix_cjk", TextAnalyzer::builder(cjk::CjkBigramTokenizer).filter(RemoveLongFilter::limit(60)).build());
}

/// Which language-specific analyser a record's language gets, besides the generic one.
fn analyser_for(language: &str) -> Option<usize> {
    match language.split('-').next().unwrap_or_default().to_ascii_lowercase().as_str() {
        "en" => Some(1),
        "ru" => Some(2),
        "zh" | "ja" | "ko" => Some(3),
        _ => None,
    }
}

/// All searchable text of a publication: summary, body, and the string values of its
/// kind-specific section (problem, measures, lessons, objectives, provisions, ...).
fn searchable_text(p: &rix_record::Publication) -> String {
    let mut parts = vec![p.title.clone(), p.summary.clone(), p.body.clone()];
    parts.extend(p.tags.iter().cloned());
    if let Some(c) = &p.contact_unit {
        parts.push(c.clone());
    }
    let mut value = serde_json::to_value(p).expect("serialisable");
    if let Some(map) = value.as_object_mut() {
        for key in [
            "title",
            "summary",
            "body",
            "tags",
            "contact_unit",
            "kind",
            "language",
            "factors",
            "approaches",
            "stages",
            "themes",
            "related",
            "supersedes",
            "period",
        ] {
            map.remove(key);
        }
    }
    collect_strings(&value, &mut parts);
    parts.retain(|s| !s.trim().is_empty());
    parts.join("\n")
}

fn collect_strings(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_strings(x, out)),
        serde_json::Value::Object(m) => m.values().for_each(|x| collect_strings(x, out)),
        _ => {}
    }
}

impl SearchIndex {
    /// Opens the index in `dir`, creating it (empty) if needed. Commits are not synced (see
    /// [`directory`]), so an index left without its clean-shutdown marker is checked first, and
    /// one that is damaged or cannot be opened is replaced by an empty one, which
    /// [`SearchIndex::catch_up`] then fills from the replica.
    pub fn open(dir: &Path) -> Result<Self, SearchError> {
        let err = |e: &dyn std::fmt::Display| SearchError::Index { path: dir.to_owned(), message: e.to_string() };
        std::fs::create_dir_all(dir).map_err(|e| err(&e))?;
        let clean = read_synced(dir);
        let damage = match Self::open_in(dir, clean) {
            Ok(index) if clean.is_some() => return Ok(index),
            Ok(index) => match index.index.validate_checksum() {
                Ok(damaged) if damaged.is_empty() => return Ok(index),
                Ok(damaged) => format!("{} damaged files", damaged.len()),
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        tracing::warn!(dir = %dir.display(), %damage, "the search index is damaged (a crash?); rebuilding it from the replica");
        std::fs::remove_dir_all(dir).and_then(|()| std::fs::create_dir_all(dir)).map_err(|e| err(&e))?;
        Self::open_in(dir, None)
    }

    fn open_in(dir: &Path, clean: Option<u64>) -> Result<Self, SearchError> {
        let err = |e: &dyn std::fmt::Display| SearchError::Index { path: dir.to_owned(), message: e.to_string() };
        let (schema, fields) = schema();
        let directory = directory::UnsyncedDirectory::open(dir).map_err(|e| err(&e))?;
        let index = Index::open_or_create(directory, schema).map_err(|e| err(&e))?;
        register_analysers(&index);
        let writer = index.writer_with_num_threads(1, WRITER_MEMORY).map_err(|e| err(&e))?;
        let reader = index.reader_builder().reload_policy(ReloadPolicy::Manual).try_into().map_err(|e| err(&e))?;
        Ok(Self { dir: dir.to_owned(), index, reader, writer: Mutex::new(writer), fields, clean: Mutex::new(clean) })
    }

    fn err(&self, e: impl std::fmt::Display) -> SearchError {
        SearchError::Index { path: self.dir.clone(), message: e.to_string() }
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, IndexWriter> {
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds (or replaces) a record's document. Withdrawals are not indexed. Call
    /// [`SearchIndex::commit`] to make additions visible.
    pub fn add(&self, record: &VerifiedRecord) -> Result<bool, SearchError> {
        let r = record.record();
        let Content::Publication(p) = &r.content else { return Ok(false) };
        let f = self.fields;
        let id = record.id().to_hex();
        let mut doc = TantivyDocument::default();
        doc.add_text(f.id, &id);
        doc.add_text(f.author, r.author.as_str());
        doc.add_text(f.kind, p.kind.slug());
        for factor in &p.factors {
            doc.add_text(f.factor, factor.slug());
        }
        let language = p.language.as_str().to_ascii_lowercase();
        doc.add_text(f.language, &language);
        doc.add_text(f.language, p.language.primary());
        doc.add_i64(f.created, r.created_at.unix());
        let text = searchable_text(p);
        let mut analysers = vec![GENERIC];
        analysers.extend(analyser_for(&language));
        for a in analysers {
            doc.add_text(f.title[a], &p.title);
            doc.add_text(f.text[a], &text);
        }
        let writer = self.writer();
        writer.delete_term(Term::from_field_text(f.id, &id));
        writer.add_document(doc).map_err(|e| self.err(e))?;
        Ok(true)
    }

    /// Removes a record's document (a record taken out of the replica) and commits.
    pub fn remove(&self, id: &rix_record::RecordId) -> Result<(), SearchError> {
        self.writer().delete_term(Term::from_field_text(self.fields.id, &id.to_hex()));
        self.commit()
    }

    /// Makes added documents searchable. Not durable until [`SearchIndex::write_synced`].
    pub fn commit(&self) -> Result<(), SearchError> {
        if self.clean.lock().unwrap_or_else(|p| p.into_inner()).take().is_some() {
            // The index is about to differ from its durable state: the marker must not survive
            // a power cut that the changes do not.
            let marker = self.dir.join(SYNCED_FILE);
            std::fs::remove_file(&marker)
                .and_then(|()| std::fs::File::open(&self.dir)?.sync_all())
                .map_err(|e| self.err(format!("removing {}: {e}", marker.display())))?;
        }
        self.writer().commit().map_err(|e| self.err(e))?;
        self.reader.reload().map_err(|e| self.err(e))
    }

    /// Documents in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes the index occupies on disk.
    pub fn size_on_disk(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|d| d.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
            .unwrap_or(0)
    }

    /// Drops everything and indexes every record of the replica. `progress(done, total)`.
    pub fn rebuild(&self, replica: &Replica, mut progress: impl FnMut(u64, u64)) -> Result<u64, SearchError> {
        self.writer().delete_all_documents().map_err(|e| self.err(e))?;
        let total = replica.len()?;
        let mut indexed = 0;
        for (done, record) in replica.iter().enumerate() {
            indexed += u64::from(self.add(&record?)?);
            if done % 1000 == 0 {
                progress(done as u64, total);
            }
        }
        self.commit()?;
        self.write_synced(total);
        progress(total, total);
        Ok(indexed)
    }

    /// Indexes records the replica holds but the index lacks (after offline publishing or an
    /// import, or a crash). Unless `force`, it is cheap when nothing changed: it compares the
    /// replica's record count with the count recorded at the last catch-up or clean shutdown.
    pub fn catch_up(&self, replica: &Replica, force: bool) -> Result<u64, SearchError> {
        let total = replica.len()?;
        if !force && *self.clean.lock().unwrap_or_else(|p| p.into_inner()) == Some(total) {
            return Ok(0);
        }
        let searcher = self.reader.searcher();
        let mut added = 0;
        for record in replica.iter() {
            let record = record?;
            let term = Term::from_field_text(self.fields.id, &record.id().to_hex());
            let present =
                searcher.search(&TermQuery::new(term, IndexRecordOption::Basic), &Count).map_err(|e| self.err(e))? > 0;
            if !present {
                added += u64::from(self.add(&record)?);
            }
        }
        self.commit()?;
        self.write_synced(total);
        Ok(added)
    }

    /// Makes the index durable and records that it reflects `count` replica records (at a
    /// clean shutdown, and after a catch-up or rebuild).
    pub fn write_synced(&self, count: u64) {
        let marker = self.dir.join(SYNCED_FILE);
        let tmp = self.dir.join(format!("{SYNCED_FILE}.tmp"));
        let written = directory::sync_all(&self.dir)
            .and_then(|()| {
                let mut f = std::fs::File::create(&tmp)?;
                std::io::Write::write_all(&mut f, count.to_string().as_bytes())?;
                f.sync_all()
            })
            .and_then(|()| std::fs::rename(&tmp, &marker))
            .and_then(|()| std::fs::File::open(&self.dir)?.sync_all());
        match written {
            Ok(()) => *self.clean.lock().unwrap_or_else(|p| p.into_inner()) = Some(count),
            Err(e) => {
                tracing::warn!(error = %e, "could not make the search index durable; it is checked at next start")
            }
        }
    }

    fn text_query(&self, text: &str) -> Result<Option<Box<dyn Query>>, SearchError> {
        let f = self.fields;
        let (rest, prefixes) = split_prefixes(text);
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        if !rest.trim().is_empty() {
            let defaults: Vec<Field> = f.title.iter().chain(f.text.iter()).copied().collect();
            let mut parser = QueryParser::for_index(&self.index, defaults);
            parser.set_conjunction_by_default();
            for t in f.title {
                parser.set_field_boost(t, TITLE_BOOST);
            }
            let q = parser
                .parse_query(&rest)
                .map_err(|e| SearchError::Query { query: text.to_owned(), message: e.to_string() })?;
            clauses.push((Occur::Must, q));
        }
        for prefix in prefixes {
            let mut any_field: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for (i, analyser) in ANALYSERS.iter().enumerate() {
                // The prefix is analysed like the field's text (lowercase, folding), but not
                // stemmed: a stem is itself a prefix of the word.
                let Some(mut tokenizer) = self.index.tokenizers().get(if i == 3 { "rix_cjk" } else { "rix_generic" })
                else {
                    continue;
                };
                let mut stream = tokenizer.token_stream(&prefix);
                let Some(token) = stream.next().map(|t| t.text.clone()) else { continue };
                let pattern = format!("{}.*", regex_escape(&token));
                for field in [f.title[i], f.text[i]] {
                    let q = RegexQuery::from_pattern(&pattern, field).map_err(|e| self.err(e))?;
                    any_field.push((Occur::Should, Box::new(q)));
                }
                let _ = analyser;
            }
            clauses.push((Occur::Must, Box::new(BooleanQuery::new(any_field))));
        }
        Ok((!clauses.is_empty()).then(|| Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>))
    }

    fn filter_clauses(&self, filter: &RecordFilter) -> Vec<(Occur, Box<dyn Query>)> {
        let f = self.fields;
        let term = |field: Field, value: &str| -> (Occur, Box<dyn Query>) {
            (Occur::Must, Box::new(TermQuery::new(Term::from_field_text(field, value), IndexRecordOption::Basic)))
        };
        let mut out = Vec::new();
        if let Some(k) = filter.kind {
            out.push(term(f.kind, k.slug()));
        }
        if let Some(m) = &filter.member {
            out.push(term(f.author, m.as_str()));
        }
        if let Some(x) = filter.factor {
            out.push(term(f.factor, x.slug()));
        }
        if let Some(l) = &filter.language {
            out.push(term(f.language, &l.to_ascii_lowercase()));
        }
        if let Some(since) = filter.since {
            let lower = Term::from_field_i64(f.created, since.unix());
            out.push((Occur::Must, Box::new(RangeQuery::new(Bound::Included(lower), Bound::Unbounded))));
        }
        out
    }

    /// Runs a search. Results honour every filter, including `all_versions` and
    /// `include_withdrawn` (checked against the replica).
    pub fn search(&self, replica: &Replica, query: &SearchQuery) -> Result<SearchResults, SearchError> {
        let Some(text_query) = self.text_query(&query.text)? else {
            return Ok(SearchResults { query: query.text.clone(), ..SearchResults::default() });
        };
        let mut clauses = vec![(Occur::Must, text_query)];
        clauses.extend(self.filter_clauses(&query.filter));
        let full = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let total = searcher.search(&full, &Count).map_err(|e| self.err(e))?;
        let limit = query.filter.limit.unwrap_or(20);
        let mut generators: HashMap<usize, SnippetGenerator> = HashMap::new();
        let mut hits = Vec::new();
        let mut offset = 0;
        let mut page = (limit * 2).max(20);
        while hits.len() < limit && offset < total {
            let top = searcher
                .search(&full, &TopDocs::with_limit(page).and_offset(offset).order_by_score())
                .map_err(|e| self.err(e))?;
            offset += page;
            page *= 2;
            for (score, address) in top {
                if hits.len() >= limit {
                    break;
                }
                let doc: TantivyDocument = searcher.doc(address).map_err(|e| self.err(e))?;
                let Some(id) = doc.get_first(self.fields.id).and_then(|v| v.as_str()).and_then(|s| s.parse().ok())
                else {
                    continue;
                };
                let Some(record) = replica.get(&id)? else { continue };
                let stored = replica.stored(record)?;
                if !admits(&query.filter, &stored) {
                    continue;
                }
                let view = view(&stored, Detail::Summary);
                let analyser = analyser_for(&view.language).unwrap_or(GENERIC);
                let generator = match generators.entry(analyser) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(v) => {
                        let mut g = SnippetGenerator::create(&searcher, &full, self.fields.text[analyser])
                            .map_err(|e| self.err(e))?;
                        g.set_max_num_chars(200);
                        v.insert(g)
                    }
                };
                let snippet = generator.snippet_from_doc(&doc);
                let (text, highlights) = if snippet.is_empty() {
                    (view.summary.chars().take(200).collect(), vec![])
                } else {
                    (snippet.fragment().to_owned(), snippet.highlighted().iter().map(|r| (r.start, r.end)).collect())
                };
                hits.push(SearchHit { record: view, score, snippet: text, highlights });
            }
        }
        Ok(SearchResults { query: query.text.clone(), total, records: hits })
    }
}

/// Splits `word*` prefix terms (outside quotes) from the rest of the query.
fn read_synced(dir: &Path) -> Option<u64> {
    std::fs::read_to_string(dir.join(SYNCED_FILE)).ok()?.trim().parse().ok()
}

fn split_prefixes(text: &str) -> (String, Vec<String>) {
    let mut rest = String::new();
    let mut prefixes = Vec::new();
    let mut in_quotes = false;
    let mut word = String::new();
    let flush = |word: &mut String, rest: &mut String, prefixes: &mut Vec<String>, in_quotes: bool| {
        if !in_quotes && word.len() > 1 && word.ends_with('*') && !word.starts_with('"') {
            prefixes.push(word.trim_end_matches('*').trim_start_matches(['+', '-']).to_owned());
        } else {
            rest.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c == '"' {
            in_quotes = !in_quotes;
            word.push(c);
        } else if c.is_whitespace() && !in_quotes {
            flush(&mut word, &mut rest, &mut prefixes, false);
            rest.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut rest, &mut prefixes, in_quotes);
    (rest, prefixes)
}

fn regex_escape(s: &str) -> String {
    s.chars().flat_map(|c| if "\\.+*?()|[]{}^$#&-~\"@<>".contains(c) { vec!['\\', c] } else { vec![c] }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_terms_are_split_from_phrases_and_words() {
        let (rest, prefixes) = split_prefixes(r#"integr* "border post*" hotline"#);
        assert_eq!(prefixes, ["integr"]);
        assert_eq!(rest.split_whitespace().collect::<Vec<_>>(), ["\"border", "post*\"", "hotline"]);
    }

    fn replica_of(dir: &Path, count: usize) -> Replica {
        use rix_record::content::Publication;
        use rix_record::{Author, KeyFactor, Kind, MemberKey, Timestamp};
        let replica = Replica::open(&dir.join("replica"), &rix_store::ReplicaOptions::default()).unwrap();
        let author = Author::new("test", "KZ".parse().unwrap(), MemberKey::from_seed(&[3; 32]));
        let mut head = None;
        let mut records = Vec::new();
        for i in 0..count {
            let p = Publication::new(
                Kind::BestPractice,
                format!("Practice {i}"),
                "en".parse().unwrap(),
                vec![KeyFactor::Automation],
            );
            let r = author.sign_next(head, Content::Publication(Box::new(p)), Timestamp::now()).unwrap();
            head = Some(r.as_head());
            records.push(r);
        }
        replica.insert_batch(&records).unwrap();
        replica
    }

    #[test]
    fn an_index_left_without_its_marker_and_damaged_is_rebuilt_and_a_clean_one_is_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let replica = replica_of(dir.path(), 20);
        let search_dir = dir.path().join("search");
        let marker = search_dir.join(SYNCED_FILE);
        {
            let index = SearchIndex::open(&search_dir).unwrap();
            assert_eq!(index.catch_up(&replica, false).unwrap(), 20);
            assert!(marker.exists(), "a catch-up leaves the index durable and marked clean");
            index.commit().unwrap();
            assert!(!marker.exists(), "a commit changes the index: the marker goes first");
        }
        // A crash or power cut left unsynced files short.
        let mut damaged = 0;
        for entry in std::fs::read_dir(&search_dir).unwrap().flatten() {
            if entry.path().extension().is_some_and(|e| e == "store") {
                let file = std::fs::OpenOptions::new().write(true).open(entry.path()).unwrap();
                file.set_len(file.metadata().unwrap().len() / 2).unwrap();
                damaged += 1;
            }
        }
        assert!(damaged > 0, "the index has segment files to damage");
        let index = SearchIndex::open(&search_dir).unwrap();
        assert_eq!(index.len(), 0, "the damaged index was replaced by an empty one");
        assert_eq!(index.catch_up(&replica, false).unwrap(), 20, "and refilled from the replica");
        drop(index);
        let index = SearchIndex::open(&search_dir).unwrap();
        assert_eq!(index.len(), 20);
        assert_eq!(index.catch_up(&replica, false).unwrap(), 0, "a clean index is trusted as it is");
    }
}
