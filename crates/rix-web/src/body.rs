//! Response bodies written by blocking code: exports and downloads of any size, streamed.

use std::io::Write;

/// Bodies stream in chunks of about this size.
const CHUNK_BYTES: usize = 256 * 1024;

/// A response body that `produce` writes on the blocking pool. It goes out in chunks of about
/// [`CHUNK_BYTES`] through a channel of four, so the daemon holds a few chunks, not the
/// whole body, however large the replica. An error part-way ends the body abnormally, which
/// the client reports as a failed export; a client that goes away stops the reading.
pub fn streamed(
    produce: impl FnOnce(&mut ChunkedBody) -> Result<(), rix_api::Error> + Send + 'static,
) -> axum::body::Body {
    let (chunks, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkedBody { chunk: Vec::with_capacity(CHUNK_BYTES), chunks };
        let last = match produce(&mut out) {
            Ok(()) => Ok(std::mem::take(&mut out.chunk)),
            Err(e) => Err(std::io::Error::other(e.to_string())),
        };
        let _ = out.chunks.blocking_send(last);
    });
    let body = futures::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    axum::body::Body::from_stream(body)
}

/// Where [`streamed`] bodies are written: a chunk, sent on when full.
pub struct ChunkedBody {
    chunk: Vec<u8>,
    chunks: tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
}

impl Write for ChunkedBody {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.chunk.extend_from_slice(buf);
        if self.chunk.len() >= CHUNK_BYTES {
            let full = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_BYTES));
            self.chunks.blocking_send(Ok(full)).map_err(|_| std::io::Error::other("the client went away"))?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
