"""Remote read on the wire in the standard library only (Debian's python3 has
neither snappy nor protobuf): snappy block format (literal-only compression,
full decompression), the few protobuf messages of remote read, the
STREAMED_XOR_CHUNKS frames and Prometheus's XOR chunk decoding, all written
from the formats' documentation so they check vigil rather than mirror it."""
import struct
import urllib.error
import urllib.request

SAMPLES, STREAMED_XOR_CHUNKS = 0, 1
EQ, NEQ, RE, NRE = 0, 1, 2, 3


def uvarint(n):
    n &= (1 << 64) - 1  # int64 fields: negative numbers as two's complement
    out = bytearray()
    while n >= 0x80:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_uvarint(b, i):
    n = shift = 0
    while True:
        if i >= len(b):
            raise ValueError("truncated varint")
        c = b[i]
        i += 1
        n |= (c & 0x7F) << shift
        if not c & 0x80:
            return n, i
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def snappy_compress(data):
    """Valid snappy block format made of literals only (any decoder reads it)."""
    out = bytearray(uvarint(len(data)))
    for k in range(0, len(data), 65536):
        lit = data[k:k + 65536]
        n = len(lit) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += lit
    return bytes(out)


def snappy_decompress(data):
    length, i = read_uvarint(data, 0)
    out = bytearray()
    while i < len(data):
        tag = data[i]
        i += 1
        kind = tag & 3
        if kind == 0:
            n = tag >> 2
            if n >= 60:
                extra = n - 59
                n = int.from_bytes(data[i:i + extra], "little")
                i += extra
            n += 1
            out += data[i:i + n]
            i += n
            continue
        if kind == 1:
            n = 4 + ((tag >> 2) & 7)
            off = ((tag >> 5) << 8) | data[i]
            i += 1
        elif kind == 2:
            n = 1 + (tag >> 2)
            off = int.from_bytes(data[i:i + 2], "little")
            i += 2
        else:
            n = 1 + (tag >> 2)
            off = int.from_bytes(data[i:i + 4], "little")
            i += 4
        if off == 0 or off > len(out):
            raise ValueError("bad snappy copy offset")
        for _ in range(n):
            out.append(out[-off])
    if len(out) != length:
        raise ValueError(f"snappy: {len(out)} bytes decoded, header says {length}")
    return bytes(out)


def field(num, wire, payload):
    return uvarint(num << 3 | wire) + payload


def ld(num, payload):
    return field(num, 2, uvarint(len(payload)) + payload)


def read_request(queries, accepted=()):
    """queries: [(start_ms, end_ms, [(type, name, value), …]), …]."""
    out = b""
    for start, end, matchers in queries:
        q = field(1, 0, uvarint(start)) + field(2, 0, uvarint(end))
        for typ, name, value in matchers:
            q += ld(3, field(1, 0, uvarint(typ)) + ld(2, name.encode()) + ld(3, value.encode()))
        out += ld(1, q)
    for a in accepted:
        out += field(2, 0, uvarint(a))
    return out


def parse(b):
    """Protobuf wire format to {field: [value, …]} (bytes for length-delimited,
    ints for varints, raw 8 bytes for fixed64)."""
    out, i = {}, 0
    while i < len(b):
        key, i = read_uvarint(b, i)
        num, wire = key >> 3, key & 7
        if wire == 0:
            v, i = read_uvarint(b, i)
        elif wire == 1:
            v, i = b[i:i + 8], i + 8
        elif wire == 2:
            n, i = read_uvarint(b, i)
            v, i = b[i:i + n], i + n
        elif wire == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        out.setdefault(num, []).append(v)
    return out


def int64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def labels(msgs):
    return tuple(sorted((parse(m)[1][0].decode(), parse(m).get(2, [b""])[0].decode()) for m in msgs))


def accepted_types(raw_request):
    """The accepted_response_types of an uncompressed ReadRequest (packed or not)."""
    out = []
    for v in parse(raw_request).get(2, []):
        if isinstance(v, bytes):  # packed
            i = 0
            while i < len(v):
                n, i = read_uvarint(v, i)
                out.append(n)
        else:
            out.append(v)
    return out


def decode_samples(body):
    """A SAMPLES response: per query, {labels: [(t_ms, value), …]}."""
    out = []
    for qr in parse(snappy_decompress(body)).get(1, []):
        series = {}
        for ts in parse(qr).get(1, []):
            m = parse(ts)
            pts = []
            for s in m.get(2, []):
                sm = parse(s)
                v = struct.unpack("<d", sm[1][0])[0] if 1 in sm else 0.0
                pts.append((int64(sm.get(2, [0])[0]), v))
            series[labels(m.get(1, []))] = pts
        out.append(series)
    return out


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


class Bits:
    def __init__(self, b):
        self.n = int.from_bytes(b, "big") if b else 0
        self.left = len(b) * 8

    def read(self, k):
        if k > self.left:
            raise ValueError("XOR chunk ends early")
        self.left -= k
        return (self.n >> self.left) & ((1 << k) - 1)

    def byte_uvarint(self):
        n = shift = 0
        while True:
            c = self.read(8)
            n |= (c & 0x7F) << shift
            if not c & 0x80:
                return n
            shift += 7


def decode_xor_chunk(b):
    """Prometheus's tsdb/chunkenc XOR chunk: [(t_ms, value), …]."""
    count = int.from_bytes(b[:2], "big")
    r = Bits(b[2:])
    out = []
    t = delta = 0
    vbits = leading = trailing = 0
    for i in range(count):
        if i == 0:
            z = r.byte_uvarint()
            t = (z >> 1) ^ -(z & 1)  # Go's binary.Varint
            vbits = r.read(64)
        else:
            if i == 1:
                delta = r.byte_uvarint()  # Go's binary.Uvarint
            else:
                width = 0
                for w in (14, 17, 20, 64):
                    if not r.read(1):
                        break
                    width = w
                else:
                    width = 64
                # prefixes: 0 -> dod 0, 10 -> 14 bits, 110 -> 17, 1110 -> 20, 1111 -> 64
                dod = 0
                if width:
                    dod = r.read(width)
                    if width < 64 and dod > 1 << (width - 1):
                        dod -= 1 << width
                    elif width == 64 and dod >= 1 << 63:
                        dod -= 1 << 64
                delta += dod
            t += delta
            if r.read(1):
                if r.read(1):
                    leading = r.read(5)
                    sig = r.read(6) or 64
                    trailing = 64 - leading - sig
                sig = 64 - leading - trailing
                vbits ^= r.read(sig) << trailing
        out.append((t, struct.unpack(">d", vbits.to_bytes(8, "big"))[0]))
    return out


def decode_streamed(body):
    """A STREAMED_XOR_CHUNKS response: (per query {labels: [(t, v), …]},
    frame sizes, largest chunk's sample count). Checks every CRC."""
    per_query, frames, most = {}, [], 0
    i = 0
    while i < len(body):
        n, j = read_uvarint(body, i)
        crc = int.from_bytes(body[j:j + 4], "big")
        msg = body[j + 4:j + 4 + n]
        if len(msg) != n or crc32c(msg) != crc:
            raise ValueError(f"frame at byte {i}: short or bad CRC-32C")
        frames.append(j + 4 + n - i)
        i = j + 4 + n
        m = parse(msg)
        qi = int64(m.get(2, [0])[0])
        for cs in m.get(1, []):
            c = parse(cs)
            lab = labels(c.get(1, []))
            pts = per_query.setdefault(qi, {}).setdefault(lab, [])
            for ch in c.get(2, []):
                chunk = parse(ch)
                if chunk.get(3, [0])[0] != 1:
                    raise ValueError("chunk encoding is not XOR")
                samples = decode_xor_chunk(chunk[4][0])
                most = max(most, len(samples))
                if samples and (samples[0][0] != int64(chunk.get(1, [0])[0]) or
                                samples[-1][0] != int64(chunk.get(2, [0])[0])):
                    raise ValueError("chunk min/max time do not match its samples")
                pts += samples
    return per_query, frames, most


def post(url, raw_request, timeout=30):
    """POSTs snappy(raw_request); returns (status, headers, body bytes)."""
    req = urllib.request.Request(url, data=snappy_compress(raw_request), method="POST")
    req.add_header("Content-Type", "application/x-protobuf")
    req.add_header("Content-Encoding", "snappy")
    req.add_header("X-Prometheus-Remote-Read-Version", "0.1.0")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()
