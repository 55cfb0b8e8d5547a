// js-libp2p 3.x uses Promise.withResolvers (Node.js 22). This machine's and CI's Node.js is 20:
// the same function, from its specification (ES2024), installed before js-libp2p loads.
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve, reject
    const promise = new this((res, rej) => { resolve = res; reject = rej })
    return { promise, resolve, reject }
  }
}
