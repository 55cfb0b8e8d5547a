//! Serving a peer's sync request: bans, the serve budget and the request's limits are
//! checked here; what passes is handed to the driver to read from the replica.

use super::{Engine, Output, Serve, Types};
use crate::Time;
use crate::scoring::Offence;
use crate::serve::check_fetch;
use crate::wire::{SyncRequest, SyncResponse};

impl<T: Types> Engine<T> {
    pub(super) fn on_sync_request(&mut self, from: T::Peer, request: SyncRequest, reply: T::Reply, now: Time) {
        let admitted = self.serving.admit(&from, now);
        if self.scores.is_banned(&from, now) {
            let response = SyncResponse::Error { message: "banned for misbehaviour".into() };
            self.out.push(Output::Respond { peer: from, reply, response });
            return;
        }
        if let Err(refusal) = admitted {
            let retry_after_ms = self.serving.retry_after().as_millis() as u64;
            let response = SyncResponse::Busy { retry_after_ms };
            self.out.push(Output::Respond { peer: from.clone(), reply, response });
            self.out.push(Output::ServeRefused { peer: from.clone(), refusal });
            self.penalise(&from, Offence::SyncOverLimit, now);
            return;
        }
        let serve = match check_fetch(&request, self.config.batch_records) {
            None => match request {
                SyncRequest::Charter { after } if after.as_ref().is_none_or(|a| is_store_key(a)) => {
                    Serve::Charter { after }
                }
                SyncRequest::Charter { .. } => {
                    let message = "after: not a charter store key (66 or 130 lowercase hex digits)".into();
                    let response = SyncResponse::Error { message };
                    self.out.push(Output::Respond { peer: from.clone(), reply, response });
                    self.penalise(&from, Offence::SyncOverLimit, now);
                    return;
                }
                _ => Serve::Summary,
            },
            Some(Ok(fetch)) => Serve::Fetch(fetch),
            Some(Err(bad)) => {
                let response = SyncResponse::Error { message: bad.to_string() };
                self.out.push(Output::Respond { peer: from.clone(), reply, response });
                self.penalise(&from, Offence::SyncOverLimit, now);
                return;
            }
        };
        self.out.push(Output::Serve { peer: from, reply, serve });
    }
}

/// A charter item's store key in hex: an amendment's (1 + 32 bytes) or an approval's
/// (1 + 32 + 32 bytes).
fn is_store_key(text: &str) -> bool {
    matches!(text.len(), 66 | 130) && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}
