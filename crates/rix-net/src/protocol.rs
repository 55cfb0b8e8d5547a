//! The rix sync protocol, `/rix/sync/1`: messages, their byte encoding, and the libp2p codec.
//!
//! One request and one response per stream. Every message is a frame:
//!
//! ```text
//! frame   = length (u32, big-endian) || body (length bytes of UTF-8 JSON)
//! request : frame                         (at most MAX_REQUEST_BYTES)
//! response: frame [ entry * count ]       (header at most MAX_HEADER_BYTES)
//! entry   = length (u32, big-endian) || envelope (at most MAX_RECORD_BYTES)
//! ```
//! Record entries follow the header only in a `records` response, which says how many.
//! `docs/protocol.md` is the normative description.

use std::io;

use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use libp2p::StreamProtocol;
use rix_record::MAX_RECORD_BYTES;

/// The protocol id.
pub const SYNC_PROTOCOL: StreamProtocol = StreamProtocol::new("/rix/sync/1");
pub use rix_engine::wire::{
    AuthorHead, CharterSummary, MAX_FETCH_RECORDS, MAX_HEADER_BYTES, MAX_REQUEST_BYTES, MAX_RESPONSE_RECORD_BYTES,
    SyncRequest, SyncResponse,
};

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

async fn read_frame<T: AsyncRead + Unpin>(io: &mut T, limit: usize) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > limit {
        return Err(invalid(format!("frame of {len} bytes exceeds the {limit}-byte limit")));
    }
    let mut body = vec![0u8; len];
    io.read_exact(&mut body).await?;
    Ok(body)
}

async fn write_frame<T: AsyncWrite + Unpin>(io: &mut T, body: &[u8]) -> io::Result<()> {
    let len = u32::try_from(body.len()).map_err(|_| invalid("frame too large"))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(body).await
}

/// Reads a request.
pub async fn read_request<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<SyncRequest> {
    let body = read_frame(io, MAX_REQUEST_BYTES).await?;
    serde_json::from_slice(&body).map_err(|e| invalid(format!("bad sync request: {e}")))
}

/// Writes a request.
pub async fn write_request<T: AsyncWrite + Unpin>(io: &mut T, request: &SyncRequest) -> io::Result<()> {
    write_frame(io, &serde_json::to_vec(request).expect("serialisable")).await?;
    io.close().await
}

/// Reads a response, entries included, enforcing every limit.
pub async fn read_response<T: AsyncRead + Unpin>(io: &mut T) -> io::Result<SyncResponse> {
    let body = read_frame(io, MAX_HEADER_BYTES).await?;
    let mut response: SyncResponse =
        serde_json::from_slice(&body).map_err(|e| invalid(format!("bad sync response: {e}")))?;
    if let SyncResponse::Records { records, count, .. } = &mut response {
        if *count > MAX_FETCH_RECORDS {
            return Err(invalid(format!("response announces {count} records, over {MAX_FETCH_RECORDS}")));
        }
        let mut total = 0usize;
        for _ in 0..*count {
            let entry = read_frame(io, MAX_RECORD_BYTES).await?;
            total += entry.len();
            if total > MAX_RESPONSE_RECORD_BYTES {
                return Err(invalid("response exceeds the record byte budget"));
            }
            records.push(entry);
        }
    }
    if let SyncResponse::Charter { items, count, .. } = &mut response {
        if *count > MAX_FETCH_RECORDS {
            return Err(invalid(format!("response announces {count} charter items, over {MAX_FETCH_RECORDS}")));
        }
        let mut total = 0usize;
        for _ in 0..*count {
            let entry = read_frame(io, rix_record::amendment::MAX_BYTES).await?;
            total += entry.len();
            if total > MAX_RESPONSE_RECORD_BYTES {
                return Err(invalid("response exceeds the byte budget"));
            }
            items.push(entry);
        }
    }
    Ok(response)
}

/// Writes a response, entries included.
pub async fn write_response<T: AsyncWrite + Unpin>(io: &mut T, response: &SyncResponse) -> io::Result<()> {
    write_frame(io, &serde_json::to_vec(response).expect("serialisable")).await?;
    let entries = match response {
        SyncResponse::Records { records, .. } => records.as_slice(),
        SyncResponse::Charter { items, .. } => items.as_slice(),
        _ => &[],
    };
    for entry in entries {
        write_frame(io, entry).await?;
    }
    io.close().await
}

/// The request-response codec for `/rix/sync/1`.
#[derive(Debug, Clone, Default)]
pub struct SyncCodec;

impl libp2p::request_response::Codec for SyncCodec {
    type Protocol = StreamProtocol;
    type Request = SyncRequest;
    type Response = SyncResponse;

    async fn read_request<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<SyncRequest> {
        read_request(io).await
    }

    async fn read_response<T: AsyncRead + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> io::Result<SyncResponse> {
        read_response(io).await
    }

    async fn write_request<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: SyncRequest,
    ) -> io::Result<()> {
        write_request(io, &req).await
    }

    async fn write_response<T: AsyncWrite + Unpin + Send>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: SyncResponse,
    ) -> io::Result<()> {
        write_response(io, &res).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::Cursor;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    #[test]
    fn requests_and_responses_round_trip_byte_exactly() {
        let req = SyncRequest::Fetch { author: "KZ".into(), from: 3, to: 900, limit: 512 };
        let mut buf = Cursor::new(Vec::new());
        block_on(write_request(&mut buf, &req)).unwrap();
        let bytes = buf.into_inner();
        assert_eq!(&bytes[4..], br#"{"type":"fetch","author":"KZ","from":3,"to":900,"limit":512}"#);
        assert_eq!(block_on(read_request(&mut Cursor::new(bytes))).unwrap(), req);

        let res = SyncResponse::records(vec![b"RIX\x01one".to_vec(), b"RIX\x01two".to_vec()], true);
        let mut buf = Cursor::new(Vec::new());
        block_on(write_response(&mut buf, &res)).unwrap();
        let bytes = buf.into_inner();
        assert!(String::from_utf8_lossy(&bytes).contains(r#"{"type":"records","count":2,"more":true}"#));
        assert_eq!(block_on(read_response(&mut Cursor::new(bytes))).unwrap(), res);
    }

    #[test]
    fn limits_are_enforced_before_allocating() {
        let mut huge = (u32::MAX).to_be_bytes().to_vec();
        huge.extend_from_slice(b"{}");
        let err = block_on(read_request(&mut Cursor::new(huge))).unwrap_err();
        assert!(err.to_string().contains("exceeds"), "{err}");

        let header = br#"{"type":"records","count":5000,"more":false}"#;
        let mut bytes = (header.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(header);
        assert!(block_on(read_response(&mut Cursor::new(bytes))).is_err());

        let header = br#"{"type":"records","count":1,"more":false}"#;
        let mut bytes = (header.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&((MAX_RECORD_BYTES as u32) + 1).to_be_bytes());
        assert!(block_on(read_response(&mut Cursor::new(bytes))).is_err());
    }

    #[test]
    fn unknown_message_types_are_rejected() {
        let body = br#"{"type":"delete_everything"}"#;
        let mut bytes = (body.len() as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(body);
        assert!(block_on(read_request(&mut Cursor::new(bytes))).is_err());
    }
}
