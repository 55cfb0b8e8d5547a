// A rix observer written against js-libp2p 3.x from docs/protocol.md and docs/record-format.md
// alone: it is the independent implementation that tests/tests/interop_js.rs runs against rix
// nodes. Nothing here is shared with the Rust code.
//
//   node observer.mjs keygen
//       prints {"peer_id": ..., "key": <hex of the libp2p protobuf private key>}
//   node observer.mjs observe '<json>'
//       json: {"key", "dial": multiaddr with /p2p/, "network", "genesis": hex genesis hash, "members": {"KZ": "<hex key>", ...}}
//       Subscribes to the network's topic with js-libp2p's default gossipsub policy
//       (StrictSign), answers the sync protocol, and reads commands on stdin, one per line:
//         sync   a sync round with the dialled peer: summary, then fetch of every author
//         quit   stop
//       and prints one JSON object per line on stdout:
//         {"event":"ready","peer_id"}                 listening, before dialling
//         {"event":"connected","peer"} / {"event":"disconnected","peer"}
//         {"event":"dial_failed","error"}
//         {"event":"record","via":"gossip"|"sync","id","author","seq","from","relayed"}
//         {"event":"invalid","via","reason"}           a record that failed verification
//         {"event":"synced","records","authors"} / {"event":"sync_failed","error"}
//         {"event":"served","request"}                a sync request a rix node sent us
//         {"event":"graft","peer","direction"}        a gossipsub mesh link to a peer
import './node20.mjs'
import { createHash, createPublicKey, verify as edVerify } from 'node:crypto'
import { createInterface } from 'node:readline'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'

const SYNC = '/rix/sync/1'
const MAX_ENVELOPE = 262144
const CONTEXT = Buffer.from('rix-record-v1\0', 'ascii')

const out = (event) => process.stdout.write(JSON.stringify(event) + '\n')
const hex = (bytes) => Buffer.from(bytes).toString('hex')

if (process.argv[2] === 'keygen') {
  const key = await generateKeyPair('Ed25519')
  out({ peer_id: peerIdFromPrivateKey(key).toString(), key: hex(privateKeyToProtobuf(key)) })
  process.exit(0)
}
if (process.argv[2] !== 'observe') {
  process.stderr.write('usage: node observer.mjs keygen | observe JSON\n')
  process.exit(2)
}
const args = JSON.parse(process.argv[3])

// ---- record verification: docs/record-format.md §2 (steps 1-12) ----

/** RFC 8785 canonical JSON for the values rix uses (§3): JSON.stringify's string escapes are
 *  JCS's; keys sorted by UTF-16 code units, which is JavaScript's default sort. */
function canonical (value) {
  if (Array.isArray(value)) return '[' + value.map(canonical).join(',') + ']'
  if (value !== null && typeof value === 'object') {
    return '{' + Object.keys(value).sort().map((k) => JSON.stringify(k) + ':' + canonical(value[k])).join(',') + '}'
  }
  return JSON.stringify(value)
}

const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex')

/** Verifies an envelope; returns {ok, id, author, seq} or {ok: false, reason}. */
function verifyRecord (envelope) {
  const bytes = Buffer.from(envelope)
  if (bytes.length > MAX_ENVELOPE) return { ok: false, reason: 'too_large' }
  if (bytes.length < 4) return { ok: false, reason: 'truncated' }
  if (bytes.subarray(0, 3).toString('latin1') !== 'RIX') return { ok: false, reason: 'bad_magic' }
  if (bytes[3] !== 1) return { ok: false, reason: 'unsupported_version' }
  if (bytes.length <= 68) return { ok: false, reason: 'truncated' }
  const signature = bytes.subarray(4, 68)
  const payload = bytes.subarray(68)
  let record
  try {
    record = JSON.parse(payload.toString('utf8'))
  } catch {
    return { ok: false, reason: 'malformed' }
  }
  if (canonical(record) !== payload.toString('utf8')) return { ok: false, reason: 'non_canonical' }
  if (record.network !== args.network) return { ok: false, reason: 'wrong_network' }
  const memberKey = args.members[record.author]
  if (memberKey === undefined) return { ok: false, reason: 'unknown_author' }
  if (record.author_key !== memberKey) return { ok: false, reason: 'key_mismatch' }
  const key = createPublicKey({
    key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(record.author_key, 'hex')]),
    format: 'der',
    type: 'spki'
  })
  if (!edVerify(null, Buffer.concat([CONTEXT, payload]), key, signature)) return { ok: false, reason: 'bad_signature' }
  return { ok: true, id: createHash('sha256').update(bytes).digest('hex'), author: record.author, seq: record.seq }
}

// ---- the node ----

const privateKey = privateKeyFromProtobuf(Buffer.from(args.key, 'hex'))
const node = await createLibp2p({
  privateKey,
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services: {
    identify: identify(),
    ping: ping(),
    // js-libp2p's defaults, StrictSign among them, with the message id rix uses (protocol.md §3).
    pubsub: gossipsub({ msgIdFn: (msg) => createHash('sha256').update(msg.data).digest() })
  }
})
const topic = `/rix/${args.network}/${args.genesis}/records/1`
const held = new Map() // id -> envelope

node.services.pubsub.addEventListener('gossipsub:message', (event) => {
  const { msg, propagationSource } = event.detail
  // Charter amendments (RIXM) and approvals (RIXV) share the topic; this observer does not
  // replicate the charter chain (protocol.md §3).
  const magic = Buffer.from(msg.data.subarray(0, 4)).toString('latin1')
  if (magic === 'RIXM' || magic === 'RIXV') {
    out({ event: 'charter_item', via: 'gossip' })
    return
  }
  const result = verifyRecord(msg.data)
  if (!result.ok) {
    out({ event: 'invalid', via: 'gossip', reason: result.reason })
    return
  }
  held.set(result.id, msg.data)
  const from = msg.type === 'signed' ? msg.from.toString() : null
  // The message's signed fields as received, so that other implementations' checks can be run
  // on exactly what a rix node forwards (tests/interop/README.md).
  const wire = msg.type === 'signed'
    ? { from: hex(msg.from.toMultihash().bytes), seqno: msg.sequenceNumber.toString(16).padStart(16, '0'), signature: hex(msg.signature), topic: msg.topic, data: hex(msg.data) }
    : null
  out({ event: 'record', via: 'gossip', id: result.id, author: result.author, seq: result.seq, from, relayed: from !== propagationSource.toString(), wire })
})
node.services.pubsub.subscribe(topic)
node.services.pubsub.addEventListener('gossipsub:graft', (event) => out({ event: 'graft', peer: event.detail.peerId.toString(), direction: event.detail.direction }))
node.addEventListener('peer:connect', (event) => out({ event: 'connected', peer: event.detail.toString() }))
node.addEventListener('peer:disconnect', (event) => out({ event: 'disconnected', peer: event.detail.toString() }))

// ---- the sync protocol: docs/protocol.md §4 ----

/** Reads a whole stream (the responder closes after its answer). */
async function readAll (stream) {
  const chunks = []
  for await (const chunk of stream) chunks.push(chunk.subarray())
  return Buffer.concat(chunks)
}

function frame (json) {
  const body = Buffer.from(JSON.stringify(json), 'utf8')
  const length = Buffer.alloc(4)
  length.writeUInt32BE(body.length)
  return Buffer.concat([length, body])
}

async function request (json) {
  const stream = await node.dialProtocol(multiaddr(args.dial), SYNC)
  stream.send(frame(json))
  await stream.close()
  const bytes = await readAll(stream)
  const length = bytes.readUInt32BE(0)
  const response = JSON.parse(bytes.subarray(4, 4 + length).toString('utf8'))
  const entries = []
  let at = 4 + length
  for (let i = 0; response.type === 'records' && i < response.count; i++) {
    const entryLength = bytes.readUInt32BE(at)
    entries.push(bytes.subarray(at + 4, at + 4 + entryLength))
    at += 4 + entryLength
  }
  if (at !== bytes.length) throw new Error(`${bytes.length - at} bytes after the response`)
  return { response, entries }
}

async function syncRound () {
  const { response: summary } = await request({ type: 'summary' })
  if (summary.type !== 'summary') throw new Error(`summary answered ${JSON.stringify(summary)}`)
  if (summary.network !== args.network) throw new Error(`peer is on network ${summary.network}`)
  let records = 0
  for (const head of summary.heads) {
    if (args.members[head.author] === undefined) continue
    let from = 1
    for (;;) {
      const { response, entries } = await request({ type: 'fetch', author: head.author, from, to: head.max_seq, limit: 512 })
      if (response.type === 'busy') {
        await new Promise((resolve) => setTimeout(resolve, response.retry_after_ms))
        continue
      }
      if (response.type !== 'records') throw new Error(`fetch answered ${JSON.stringify(response)}`)
      for (const envelope of entries) {
        const result = verifyRecord(envelope)
        if (!result.ok) {
          out({ event: 'invalid', via: 'sync', reason: result.reason })
          continue
        }
        held.set(result.id, envelope)
        records++
        out({ event: 'record', via: 'sync', id: result.id, author: result.author, seq: result.seq, from: null, relayed: false })
        from = result.seq + 1
      }
      if (!response.more || entries.length === 0) break
    }
  }
  out({ event: 'synced', records, authors: summary.heads.length })
}

// What an observer must answer (protocol.md §5): a summary of what it holds, and fetches.
node.handle(SYNC, async (stream) => {
  try {
    const bytes = await readAll(stream)
    const req = JSON.parse(bytes.subarray(4, 4 + bytes.readUInt32BE(0)).toString('utf8'))
    out({ event: 'served', request: req.type })
    if (req.type === 'summary') {
      const heads = new Map()
      for (const envelope of held.values()) {
        const record = JSON.parse(Buffer.from(envelope).subarray(68).toString('utf8'))
        const head = heads.get(record.author) ?? { author: record.author, seqs: new Set() }
        head.seqs.add(record.seq)
        heads.set(record.author, head)
      }
      const list = [...heads.values()].map(({ author, seqs }) => {
        let contiguous = 0
        while (seqs.has(contiguous + 1)) contiguous++
        return { author, contiguous, max_seq: Math.max(...seqs), held: seqs.size }
      })
      stream.send(frame({ type: 'summary', network: args.network, heads: list }))
    } else if (req.type === 'fetch') {
      const limit = Math.min(req.limit, 512)
      if (limit < 1) {
        stream.send(frame({ type: 'error', message: 'limit must be at least 1' }))
      } else {
        const matches = [...held.values()]
          .map((envelope) => [JSON.parse(Buffer.from(envelope).subarray(68).toString('utf8')), envelope])
          .filter(([r]) => r.author === req.author && r.seq >= Math.max(req.from, 1) && r.seq <= req.to)
          .sort(([a], [b]) => a.seq - b.seq)
        const sent = matches.slice(0, limit)
        const parts = [frame({ type: 'records', count: sent.length, more: matches.length > limit })]
        for (const [, envelope] of sent) {
          const length = Buffer.alloc(4)
          length.writeUInt32BE(envelope.length)
          parts.push(length, Buffer.from(envelope))
        }
        stream.send(Buffer.concat(parts))
      }
    } else {
      stream.send(frame({ type: 'error', message: `unknown request type ${req.type}` }))
    }
    await stream.close()
  } catch (err) {
    stream.abort(err)
  }
}, { runOnLimitedConnection: false })

out({ event: 'ready', peer_id: node.peerId.toString() })
try {
  await node.dial(multiaddr(args.dial))
} catch (err) {
  out({ event: 'dial_failed', error: String(err.message ?? err) })
}

for await (const line of createInterface({ input: process.stdin })) {
  const command = line.trim()
  if (command === 'sync') {
    try {
      await syncRound()
    } catch (err) {
      out({ event: 'sync_failed', error: String(err.message ?? err) })
    }
  } else if (command === 'quit') {
    break
  }
}
await node.stop()
process.exit(0)
