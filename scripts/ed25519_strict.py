"""Ed25519 in pure Python, after RFC 8032 section 6, with the strict verification that
docs/record-format.md section 2.1 specifies. Slow (about 5 ms a signature) and not constant
time: for checking test vectors, never for keys that matter.

Used by scripts/verify-vectors.py, which must not trust the Rust code's ed25519 library nor
OpenSSL's (which accepts a forged signature for a small-order key).
"""
import hashlib

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _inv(x):
    return pow(x, P - 2, P)


def _add(a, b):
    # Extended homogeneous coordinates (X, Y, Z, T), x = X/Z, y = Y/Z, x*y = T/Z.
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa = (y1 - x1) * (y2 - x2) % P
    bb = (y1 + x1) * (y2 + x2) % P
    cc = t1 * 2 * D * t2 % P
    dd = z1 * 2 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(s, point):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, point)
        point = _add(point, point)
        s >>= 1
    return q


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


IDENTITY = (0, 1, 1, 0)
_BY = 4 * _inv(5) % P


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * _inv(D * y * y + 1) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


BASE = (_recover_x(_BY, 0), _BY, 1, _recover_x(_BY, 0) * _BY % P)


def compress(point):
    zinv = _inv(point[2])
    x, y = point[0] * zinv % P, point[1] * zinv % P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def decompress(data):
    """The point a 32-byte encoding names (RFC 8032 5.1.3), or None if it names none."""
    if len(data) != 32:
        return None
    y = int.from_bytes(data, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


def is_small_order(point):
    """True for the eight points whose order divides 8 (the identity among them)."""
    return _equal(_mul(8, point), IDENTITY)


def _sha512_int(*parts):
    return int.from_bytes(hashlib.sha512(b"".join(parts)).digest(), "little")


def secret_scalar(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def public_key(seed):
    return compress(_mul(secret_scalar(seed)[0], BASE))


def sign(seed, message):
    a, prefix = secret_scalar(seed)
    public = compress(_mul(a, BASE))
    r = _sha512_int(prefix, message) % L
    big_r = compress(_mul(r, BASE))
    k = _sha512_int(big_r, public, message) % L
    return big_r + int.to_bytes((r + k * a) % L, 32, "little")


def verify_strict(public, message, signature):
    """docs/record-format.md section 2.1, checks (a) to (f), in that order. Returns None when
    the signature is valid, else the letter of the first check that fails."""
    if len(signature) != 64 or len(public) != 32:
        return "a"
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return "a"
    a_point = decompress(public)
    if a_point is None:
        return "b"
    if is_small_order(a_point):
        return "c"
    r_point = decompress(signature[:32])
    if r_point is None:
        return "d"
    if is_small_order(r_point):
        return "e"
    k = _sha512_int(signature[:32], public, message) % L
    # R' = [s]B - [k]A, compared as an encoding with the signature's R bytes.
    neg_a = ((-a_point[0]) % P, a_point[1], a_point[2], (-a_point[3]) % P)
    expected = _add(_mul(s, BASE), _mul(k, neg_a))
    if compress(expected) != signature[:32]:
        return "f"
    return None
